"""Issue 14: the tokenizer's per-component scaling and the component augmentation, both typed task options."""

import json

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from hfm.seismic.cli import app
from hfm.seismic.data.augment import ComponentAugment
from hfm.seismic.data.windows import PickingDataset, UnlabelledDataset, synthetic_windows
from hfm.seismic.tokenizer import WaveformTokenizer
from hfm.shared.artifacts import load_pretrained
from hfm.shared.errors import HFMError
from hfm.shared.train.task import build_task

TINY = {"width": 32, "depth": 1, "heads": 2, "patch_len": 20}


def _windows(seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(synthetic_windows(4, seed=seed, samples=400).waveforms)


def test_per_component_scaling_ignores_the_gain_of_one_component_and_window_scaling_does_not():
    x = _windows()
    louder_north = x.clone()
    louder_north[:, 1] *= 1000.0
    same = WaveformTokenizer.normalize(louder_north, "component") - WaveformTokenizer.normalize(x, "component")
    assert float(same.abs().max()) < 1e-4
    changed = WaveformTokenizer.normalize(louder_north, "window") - WaveformTokenizer.normalize(x, "window")
    assert float(changed[:, 0].abs().max()) > 0.5  # one common scale: a loud N shrinks Z
    per_component = WaveformTokenizer.normalize(x, "component")
    np.testing.assert_allclose(per_component.std(dim=-1).numpy(), 1.0, atol=1e-5)


def test_a_zeroed_or_dead_component_stays_near_zero_under_per_component_scaling():
    x = _windows()
    x[:, 1:] = 0.0
    x[:, 2] += 1e-7 * torch.randn(x[:, 2].shape, generator=torch.Generator().manual_seed(0))  # rounding residue
    out = WaveformTokenizer.normalize(x, "component")
    assert float(out[:, 1].abs().max()) == 0.0 and float(out[:, 2].abs().max()) < 1e-3
    assert abs(float(out[:, 0].std(dim=-1).mean()) - 1.0) < 1e-5


def test_picker_with_per_component_scaling_gives_the_same_output_when_one_horizontal_is_amplified():
    task = build_task("seismic-pick", {"dataset": "synthetic", "model_args": TINY, "normalization": "component"})
    model = task.build_model().eval()
    assert model.hfm_model["args"]["normalization"] == "component"  # written to config.json and the card
    x = _windows()
    louder_east = x.clone()
    louder_east[:, 2] *= 50.0
    with torch.no_grad():
        np.testing.assert_allclose(model(louder_east).numpy(), model(x).numpy(), atol=1e-4)


def test_component_augment_is_seeded_deterministic_and_leaves_the_vertical_alone():
    waves = synthetic_windows(400, seed=2, samples=200).waveforms
    augment = ComponentAugment(dropout=0.25, noise=0.5, seed=7)
    first = [augment(w, i) for i, w in enumerate(waves)]
    again = [augment(w, i) for i, w in enumerate(waves)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    other_seed = [ComponentAugment(dropout=0.25, noise=0.5, seed=8)(w, i) for i, w in enumerate(waves)]
    assert any(not np.array_equal(a, b) for a, b in zip(first, other_seed, strict=True))
    dropped = np.array([not a[1:].any() for a in first])
    assert 0.18 < dropped.mean() < 0.32  # a quarter of the windows lose N and E
    ratio = np.array([a[1:].std() / w[1:].std() for a, w in zip(first, waves, strict=True)])
    noisy = ~dropped & (ratio > 1.0 + 1e-6)
    assert 0.30 < noisy.mean() < 0.45  # half of the rest: 0.375 expected
    # white noise at 0.5-3x the horizontal's std raises it by sqrt(1 + level^2): 1.12 to 3.16
    assert ratio[noisy].min() > 1.05 and ratio[noisy].max() < 3.4
    for a, w in zip(first, waves, strict=True):
        np.testing.assert_array_equal(a[0], w[0])
        assert a.dtype == np.float32
    np.testing.assert_array_equal(waves, synthetic_windows(400, seed=2, samples=200).waveforms)  # input untouched


def test_datasets_augment_by_index_and_the_mae_dataset_normalises_after_augmenting():
    windows = synthetic_windows(8, seed=3, samples=200)
    augment = ComponentAugment(dropout=1.0, seed=0)
    x, _, _ = PickingDataset(windows, augment=augment)[3]
    assert not x[1:].any() and torch.equal(x[0], torch.from_numpy(windows.waveforms[3, 0]))
    unlabelled = UnlabelledDataset(windows, 20, "component", augment)[3]
    assert not unlabelled[1:].any() and abs(float(unlabelled[0].std()) - 1.0) < 1e-5
    plain = UnlabelledDataset(windows, 20, "component")[3]
    np.testing.assert_allclose(plain.std(dim=-1).numpy(), 1.0, atol=1e-5)


def test_bad_robustness_options_are_refused_naming_the_option():
    with pytest.raises(HFMError, match=r"option 'normalization': 'per-trace' is not one of 'window', 'component'"):
        build_task("seismic-pick", {"dataset": "synthetic", "normalization": "per-trace"})
    with pytest.raises(HFMError, match=r"option horizontal_noise: a share of windows in \[0, 1\], got 1.5"):
        build_task("seismic-mae", {"dataset": "synthetic", "synthetic": 4, "horizontal_noise": 1.5}).train_dataset()
    with pytest.raises(HFMError, match="give 'normalization' as a task option, not in model_args"):
        build_task("seismic-mae", {"dataset": "synthetic", "model_args": {"normalization": "component"}}).build_model()


def test_cli_finetune_records_the_options_in_run_yaml_and_the_model_config(tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "tuned"
    args = ["finetune", "synthetic", "--out", str(out), "--steps", "2", "--batch-size", "4", "--samples", "400"]
    args += ["--synthetic", "8", "--normalization", "component", "--horizontal-noise", "0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    task = yaml.safe_load((out / "run.yaml").read_text())["task"]
    assert (task["normalization"], task["horizontal_dropout"], task["horizontal_noise"]) == ("component", 0.0, 0.5)
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["args"]["normalization"] == "component"
    model, _ = load_pretrained(out / "model")
    assert model.encoder.tokenizer.normalization == "component"  # the artifact rebuilds with its scaling


def test_dev_selection_scores_every_variant_and_seed_and_picks_the_best_mean_dev_f1(tmp_path):
    from hfm.seismic.benchmarks.picking import PickBenchConfig
    from hfm.seismic.benchmarks.robustness import AS_RECORDED, chosen_variant, select_on_dev
    from hfm.seismic.data.records import Records
    from hfm.seismic.data.sensor_conditions import CONDITIONS

    torch.set_num_threads(1)
    synthetic = synthetic_windows(6, seed=4, samples=800, noise_fraction=0.0)
    records = Records(
        list(synthetic.waveforms), synthetic.p_sample, synthetic.s_sample, np.array([f"e{i}" for i in range(6)]),
        np.array(["XX.A"] * 6), np.array(["ZNE"] * 6),
    )  # fmt: skip
    config = PickBenchConfig(window=400, crops_per_record=2, finetune_steps=2, batch_size=4)
    variants = {"window": {"normalization": "window"}, "component": {"normalization": "component"}}
    rows = select_on_dev(records.subset(np.arange(4)), records.subset([4, 5]), tmp_path, config, variants, (0, 1))
    assert [(r["variant"], r["seed"]) for r in rows] == [(v, s) for s in (0, 1) for v in ("window", "component")]
    assert all(0.0 <= r[key] <= 1.0 for r in rows for key in ("dev P F1", "dev S F1", "dev P hit 0.2 s"))
    keys = [f"{c}: dev {p} {m}" for c in CONDITIONS for p in "PS" for m in ("F1", "hit 0.2 s")]
    assert all(0.0 <= r[key] <= 1.0 for r in rows for key in keys)  # every sensor condition scored
    assert all(r["dev P F1"] == r["as recorded: dev P F1"] for r in rows)
    fake = [
        {"variant": "a", "dev P F1": 0.5, "dev S F1": 0.5},
        {"variant": "b", "dev P F1": 0.9, "dev S F1": 0.0},
        {"variant": "a", "dev P F1": 0.6, "dev S F1": 0.5},
        {"variant": "b", "dev P F1": 0.9, "dev S F1": 0.4},
    ]
    assert chosen_variant(fake, AS_RECORDED) == "b"  # 1.1 against 1.05
