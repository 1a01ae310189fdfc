"""Issue 14's dev rule (no dev metric may fall, the sum must rise), per-output states of one fine-tuning run, the dev
detection windows, and the S levers (S weight, S not scored without horizontals, time-resampled crops)."""

import numpy as np
import pytest
import torch

from hfm.seismic.benchmarks.devrule import (
    METRICS,
    PerOutputPicker,
    accepts,
    choose_output_steps,
    verdict,
)
from hfm.seismic.benchmarks.picking import batched, hfm_predictor
from hfm.seismic.benchmarks.robustness import dev_detection_windows
from hfm.seismic.data.augment import ComponentAugment
from hfm.seismic.data.records import Records, stretched, training_crops
from hfm.seismic.data.windows import picking_item, synthetic_windows
from hfm.seismic.models import picking_loss
from hfm.seismic.training import finetune_states
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model
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


def test_a_per_output_picker_takes_each_channel_from_its_state():
    torch.manual_seed(0)
    early, late = (create_model("seismic-picker-tiny", **TINY).eval() for _ in range(2))
    x = torch.from_numpy(synthetic_windows(3, seed=1, samples=400).waveforms)
    mixed = PerOutputPicker({400: early, 800: late}, {"P": 800, "S": 400, "detection": 400})
    probs = hfm_predictor(mixed)(x.numpy())
    with torch.no_grad():
        e, lt = early(x)[:, :3].softmax(1).numpy(), late(x)[:, :3].softmax(1).numpy()
    np.testing.assert_allclose(probs[:, 0], lt[:, 0], rtol=1e-6)
    np.testing.assert_allclose(probs[:, 1], e[:, 1], rtol=1e-6)
    np.testing.assert_allclose(probs[:, 2], e[:, 2], rtol=1e-6)
    assert len(mixed.states) == 2 and not np.allclose(e[:, 0], lt[:, 0])
    with pytest.raises(HFMError, match="no state"):
        PerOutputPicker({400: early}, {"P": 800, "S": 400, "detection": 400})


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


def test_the_loss_skips_nan_targets_and_weights_s():
    torch.manual_seed(0)
    logits, detection = torch.randn(2, 4, 50), torch.rand(2, 50)
    targets = torch.zeros(2, 3, 50)
    targets[:, 2] = 1.0
    targets[:, :, 20] = torch.tensor([0.0, 1.0, 0.0])
    plain, _ = picking_loss(logits, targets, detection)
    heavier, _ = picking_loss(logits, targets, detection, s_weight=3.0)
    s_term = -logits[:, :3, 20].log_softmax(1)[:, 1].sum() / 100  # the S samples' share of the mean
    assert float(heavier - plain) == pytest.approx(2 * float(s_term), rel=1e-5)
    masked = targets.clone()
    masked[:, :, 20] = float("nan")
    _, without = picking_loss(logits, masked, detection)
    keep = torch.ones(50, dtype=torch.bool)
    keep[20] = False
    _, expected = picking_loss(logits[..., keep], targets[..., keep], detection[..., keep])
    assert without["phase_loss"] == pytest.approx(expected["phase_loss"], rel=1e-6)  # as if sample 20 were absent


def test_s_is_not_scored_where_the_horizontals_are_missing():
    wave = np.random.default_rng(0).standard_normal((3, 400)).astype(np.float32)
    _, full, _ = picking_item(wave, 100.0, 200.0, 10.0, ComponentAugment(), 0, True)
    assert not torch.isnan(full).any()  # horizontals present: S scored as before
    vertical = wave.copy()
    vertical[1:] = 0.0
    _, masked, _ = picking_item(vertical, 100.0, 200.0, 10.0, ComponentAugment(), 0, True)
    unscored = torch.isnan(masked).any(dim=0).nonzero().ravel()
    assert (int(unscored.min()), int(unscored.max()), len(unscored)) == (170, 230, 61)  # S +- 3 sigma
    _, plain, _ = picking_item(vertical, 100.0, 200.0, 10.0, ComponentAugment(), 0, False)
    assert not torch.isnan(plain).any()


def test_time_resampled_crops_move_their_onsets_and_leave_the_others_unchanged():
    wave = np.zeros((3, 1000), np.float32)
    wave[:, 300:] = 1.0  # a step at "P"
    out, p, s = stretched(wave, 300.0, 400.0, 1.25)
    assert out.shape == (3, 1250) and (p, s) == (375.0, 500.0)
    assert out[0, 374] < 1.0 and out[0, 376] == 1.0
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal((3, 9001)).astype(np.float32) for _ in range(4)]
    records = Records(
        waves, np.full(4, 3000.0), np.full(4, 3100.0), np.array(list("abcd")), np.array(["X.A"] * 4),
        np.array(["ZNE"] * 4), 100.0, "t",
    )  # fmt: skip
    plain = training_crops(records, 3000, 8, 0)
    assert np.all((plain.p_sample >= 50) & (plain.p_sample <= 2950))  # every crop holds its P, 50 samples in
    np.testing.assert_array_equal(training_crops(records, 3000, 8, 0, stretch=0.0).p_sample, plain.p_sample)
    some = training_crops(records, 3000, 8, 0, stretch=1.0)
    s_minus_p = some.s_sample - some.p_sample
    both = np.isfinite(s_minus_p)
    assert both.sum() > 20 and s_minus_p[both].min() >= 80 - 1e-6 and s_minus_p[both].max() <= 125 + 1e-6
    assert np.std(s_minus_p[both]) > 5  # S - P is no longer 100 samples everywhere


def test_batched_works_with_a_per_output_picker():
    torch.manual_seed(0)
    model = create_model("seismic-picker-tiny", **TINY)
    mixed = PerOutputPicker({1: model}, {"P": 1, "S": 1, "detection": 1})
    windows = synthetic_windows(5, seed=2, samples=400).waveforms
    np.testing.assert_allclose(
        batched(hfm_predictor(mixed), windows, batch=2), batched(hfm_predictor(model), windows), rtol=1e-5
    )
