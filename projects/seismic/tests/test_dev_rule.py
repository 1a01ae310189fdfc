"""Issue 14's dev rule (no dev metric may fall, the sum must rise), the per-output choice among the states of one
fine-tuning run, the dev detection windows, and the training crops."""

import numpy as np
import pytest
import torch

from hfm.seismic.benchmarks.devrule import METRICS, accepts, choose_output_steps, verdict
from hfm.seismic.benchmarks.robustness import dev_detection_windows
from hfm.seismic.data.records import Records, training_crops
from hfm.seismic.data.windows import synthetic_windows
from hfm.seismic.training import finetune_states
from hfm.shared.errors import HFMError
from hfm.shared.shortcuts import RunSettings

TINY = {"width": 32, "depth": 1, "heads": 2, "patch_len": 20}


def _rows(shift: dict[str, list[float]], base: float = 0.5) -> list[dict]:
    """Five seeds; each metric `base` plus its per-seed shift (0 where not given)."""
    return [{"seed": s, **{m: base + shift.get(m, [0.0] * 5)[s] for m in METRICS}} for s in range(5)]


def test_the_rule_refuses_a_sum_bought_with_one_falling_metric_and_accepts_a_clean_gain():
    present = _rows({})
    # P hit up by 0.25 on every seed, S F1 down by 0.14 on every seed (the 800-step trade): the sum rises, S F1 falls
    trade = _rows({"dev P hit 0.2 s": [0.24, 0.25, 0.26, 0.25, 0.25], "dev S F1": [-0.13, -0.14, -0.15, -0.14, -0.14]})
    result = verdict(present, trade)
    assert result["fell"] == ["dev S F1"] and not result["accepted"]
    assert result["sum"][0] == pytest.approx(0.11) and result["sum"][1] > 0
    gain = _rows({"dev S F1": [0.04, 0.05, 0.06, 0.05, 0.05]})
    assert accepts(present, gain)
    noisy = _rows({"dev S F1": [0.2, -0.1, 0.15, -0.05, 0.0]})  # mean +0.04, interval spans zero: not a rise
    assert not accepts(present, noisy)
    with pytest.raises(HFMError, match="two seeds"):
        verdict(present[:1], gain[:1])


def test_each_output_takes_the_later_state_only_where_its_own_metrics_pass():
    rows = {
        400: _rows({}),
        800: _rows(
            {
                "dev P hit 0.2 s": [0.24, 0.25, 0.26, 0.25, 0.25],  # P: up, P F1 unchanged -> 800
                "dev S F1": [-0.13, -0.14, -0.15, -0.14, -0.14],  # S: falls -> 400
                "dev detection ROC-AUC": [0.01, -0.01, 0.02, 0.0, -0.02],  # detection: no rise -> 400
            }
        ),
    }
    assert choose_output_steps(rows) == {"P": 800, "S": 400, "detection": 400}


def test_one_finetuning_run_keeps_its_intermediate_state(tmp_path):
    torch.set_num_threads(1)
    windows = synthetic_windows(16, seed=0, samples=400)
    settings = RunSettings(steps=4, batch_size=8, lr=3e-3, seed=0, progress=False)
    states = finetune_states(windows, tmp_path / "run", settings, 2, model_args=TINY)
    assert sorted(states) == [2, 4]
    x = torch.from_numpy(windows.waveforms[:2])
    with torch.no_grad():
        assert not torch.allclose(states[2](x), states[4](x))
    with pytest.raises(HFMError, match="must divide"):
        finetune_states(windows, tmp_path / "bad", settings, 3, model_args=TINY)


def test_dev_detection_windows_take_noise_after_the_coda():
    rate, n = 100.0, 9001
    waves = [np.random.default_rng(i).standard_normal((3, n)).astype(np.float32) for i in range(3)]
    # S - P 1 s, 1 s and 25 s: the third record's coda reaches past 60 s - 10 s of margin, so it has no noise window
    records = Records(
        waves, np.array([3000.0] * 3), np.array([3100.0, 3100.0, 5500.0]), np.array(["a", "b", "c"]),
        np.array(["X.A", "X.B", "X.C"]), np.array(["ZNE"] * 3), rate, "dev",
    )  # fmt: skip
    windows, is_event = dev_detection_windows(records, 3000, 0)
    assert windows.shape == (5, 3, 3000) and is_event.tolist() == [True, True, True, False, False]
    np.testing.assert_array_equal(windows[3], waves[0][:, -3000:])


def test_training_crops_hold_their_p_inside_the_margins():
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal((3, 9001)).astype(np.float32) for _ in range(4)]
    records = Records(
        waves, np.full(4, 3000.0), np.full(4, 3100.0), np.array(list("abcd")), np.array(["X.A"] * 4),
        np.array(["ZNE"] * 4), 100.0, "t",
    )  # fmt: skip
    crops = training_crops(records, 3000, 8, 0)
    assert crops.waveforms.shape == (32, 3, 3000)
    assert np.all((crops.p_sample >= 50) & (crops.p_sample <= 2950))  # every crop holds its P, 50 samples in
    inside = np.isfinite(crops.s_sample)  # S falls past the crop's end when P sits within 1 s of it
    assert inside.sum() == 30 and np.all(crops.s_sample[inside] - crops.p_sample[inside] == 100.0)
    np.testing.assert_array_equal(training_crops(records, 3000, 8, 0).p_sample, crops.p_sample)  # seeded
