"""Pretraining lowers the MAE loss, the encoder transfers into the picker, typed task options refuse what they do not
know, and the CLI runs curate -> pretrain -> finetune -> predict -> evaluate, each shortcut replayed by `hfm train`."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from hfm.seismic.cli import app
from hfm.seismic.data.windows import label_subset, synthetic_windows
from hfm.seismic.tasks import MAEOptions, PickOptions
from hfm.seismic.training import finetune_windows, pretrain_windows
from hfm.shared.cli.main import run as hfm_cli
from hfm.shared.errors import HFMError
from hfm.shared.models.loading import load_encoder
from hfm.shared.models.registry import create_model
from hfm.shared.options import parse_options
from hfm.shared.shortcuts import RunSettings
from hfm.shared.train.task import build_task

TINY = {"width": 32, "depth": 1, "heads": 2, "patch_len": 20}
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_pretraining_lowers_the_loss_and_transfers_to_the_picker(tmp_path):
    torch.set_num_threads(1)
    windows = synthetic_windows(48, seed=0, samples=400)
    settings = RunSettings(steps=30, batch_size=16, lr=3e-3, progress=False)
    _, result = pretrain_windows(windows, tmp_path / "mae", settings, model_args=TINY)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "mae" / "metrics.jsonl").read_text().splitlines()]
    assert result.status == "completed" and losses[-1] < 0.9 * losses[0]
    picker = create_model("seismic-picker-tiny", **TINY)
    report = load_encoder(picker, tmp_path / "mae" / "final")
    assert len(report.matched) == len([k for k in picker.state_dict() if k.startswith("encoder.")])
    finetune_windows(windows, tmp_path / "pick", settings, model_args=TINY, init=str(tmp_path / "mae" / "final"))
    losses = [json.loads(line)["loss"] for line in (tmp_path / "pick" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.8 * losses[0]


def test_a_picker_of_another_width_is_refused_naming_the_missing_keys(tmp_path):
    quick = RunSettings(steps=2, batch_size=8, progress=False)
    pretrain_windows(synthetic_windows(16, 0, 400), tmp_path / "mae", quick)
    wide = create_model("seismic-picker-tiny", **TINY)  # the file holds the default width, not 32
    with pytest.raises(HFMError, match="the encoder does not fit this model"):
        load_encoder(wide, tmp_path / "mae" / "final")


def test_label_subset_keeps_both_classes_and_is_seeded():
    windows = synthetic_windows(100, seed=1, samples=200)
    small = label_subset(windows, 0.01, seed=3)
    assert len(small) == 2 and small.is_event.sum() == 1
    np.testing.assert_array_equal(label_subset(windows, 0.1, 3).waveforms, label_subset(windows, 0.1, 3).waveforms)


def test_task_options_refuse_unknown_keys_and_never_fall_back_to_synthetic(tmp_path):
    allowed = "allowed: dataset, horizontal_dropout, horizontal_noise, model, model_args, normalization, samples"
    with pytest.raises(HFMError, match=rf"unknown option 'sampels'; {allowed}"):
        build_task("seismic-mae", {"dataset": "/nonexistent", "sampels": 400})
    with pytest.raises(HFMError, match="option 'dataset' is required"):
        build_task("seismic-pick", {"samples": 400})
    with pytest.raises(HFMError, match="/nonexistent: neither 'synthetic' nor a SeisBench folder"):
        build_task("seismic-mae", {"dataset": "/nonexistent"})
    with pytest.raises(HFMError, match="unknown option 'data'"):  # the old key name is not taken silently
        build_task("seismic-pick", {"data": "synthetic"})
    task = build_task("seismic-pick", {"dataset": "synthetic", "synthetic": 12, "samples": 400})
    assert len(task.train_dataset()) == 12


@pytest.mark.parametrize(("name", "options"), [("pretrain", MAEOptions), ("finetune", PickOptions)])
def test_shipped_configs_parse_into_the_task_options(name, options):
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    task = dict(config["task"])
    assert task.pop("name") == {"pretrain": "seismic-mae", "finetune": "seismic-pick"}[name]
    parsed = parse_options(options, task, f"configs/{name}.yaml")
    assert parsed.dataset == "DATASET" and parsed.samples == 1000 and parsed.split == "train"
    assert config["optim"]["min_lr"] == config["optim"]["lr"] / 20  # the schedule the shortcuts use


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _replays(config_path: Path, original_run: Path, replay: Path) -> None:
    try:
        hfm_cli(["train", str(config_path), "--set", f"run.out_dir={replay}"])
    except SystemExit as done:
        assert done.code in (0, None)
    assert _sha(replay / "final" / "model.safetensors") == _sha(original_run / "final" / "model.safetensors")


def test_cli_curates_pretrains_finetunes_predicts_evaluates_and_hfm_train_replays(raw_folder, tmp_path):
    torch.set_num_threads(1)
    folder, picks = raw_folder
    runner = CliRunner()
    dataset = tmp_path / "dataset"
    describe = ["--name", "rjob", "--license", "CC0-1.0", "--creator", "Test"]
    args = ["curate", str(folder), "--catalogue", str(picks), "--out", str(dataset), "--window", "4", "-q", *describe]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "quarantined" in result.output
    small = ["--steps", "2", "--batch-size", "8", "--samples", "400", "--synthetic", "16"]
    pre, tuned = tmp_path / "pre", tmp_path / "tuned"
    result = runner.invoke(app, ["pretrain", "synthetic", "--out", str(pre), *small, "--set", "optim.lr=0.002"])
    assert result.exit_code == 0, result.output
    assert yaml.safe_load((pre / "run.yaml").read_text())["optim"]["lr"] == 0.002
    result = runner.invoke(app, ["finetune", "synthetic", "--out", str(tuned), "--init", str(pre / "model"), *small])
    assert result.exit_code == 0, result.output
    assert (tuned / "model" / "model.safetensors").is_file() and (tuned / "model" / "model_card.json").is_file()
    _replays(pre / "run.yaml", pre / "run", tmp_path / "replay-pre")
    _replays(tuned / "run.yaml", tuned / "run", tmp_path / "replay-tuned")

    out = tmp_path / "picks"
    args = ["predict", str(folder / "good.mseed"), "--init", str(tuned / "model"), "--out", str(out), "--quakeml"]
    result = runner.invoke(app, [*args, "--p-threshold", "0.0", "--s-threshold", "0.0"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "picks.csv")
    assert len(table) > 0 and set(table["phase"]) <= {"P", "S"}
    import obspy

    catalog = obspy.read_events(str(out / "picks.xml"))
    assert len(catalog[0].picks) == len(table)
    # an ensemble of the picker with itself picks what the picker picks; an MAE is no ensemble member
    picker = ["predict", str(folder / "good.mseed"), "--init", str(tuned / "model")]
    twice = [*picker, "--member", str(tuned / "model"), "--out", str(tmp_path / "twice")]
    result = runner.invoke(app, [*twice, "--p-threshold", "0.0", "--s-threshold", "0.0"])
    assert result.exit_code == 0, result.output
    again = pd.read_csv(tmp_path / "twice" / "picks.csv")
    assert again["phase"].tolist() == table["phase"].tolist() and again["time"].tolist() == table["time"].tolist()
    result = runner.invoke(app, [*picker, "--member", str(pre / "model"), "--out", str(tmp_path / "mae")])
    assert result.exit_code != 0 and "not a picker" in str(result.exception)

    split = pd.read_csv(dataset / "metadata.csv")["split"].iloc[0]
    args = ["evaluate", str(dataset), "--init", str(tuned / "model"), "--out", str(tmp_path / "eval"), "--split", split]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert [r["method"] for r in rows][:3] == ["hfm picker (pretrained)", "STA/LTA", "AIC"]


def test_cli_refuses_a_dataset_that_is_neither_a_folder_nor_synthetic(tmp_path):
    result = CliRunner().invoke(app, ["pretrain", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")])
    assert result.exit_code != 0
    assert "neither 'synthetic' nor a SeisBench folder" in str(result.exception)


def test_spectral_mae_predicts_log_amplitude_spectra_and_its_loss_falls(tmp_path):
    from hfm.seismic.models import SpectralMAE

    mae = create_model("seismic-mae-tiny")
    assert isinstance(mae, SpectralMAE) and mae.decoder_pred.out_features == 3 * 13  # 25 samples -> 13 bins
    patches = torch.zeros(1, 2, 75)
    patches[0, 1, :25] = torch.cos(torch.arange(25) * 2 * torch.pi * 5 / 25)  # 5 cycles on Z in patch 1
    spectra = mae.targets(patches).reshape(1, 2, 3, 13)
    assert spectra[0, 0].abs().max() == 0 and spectra[0, 1, 1:].abs().max() == 0
    assert int(spectra[0, 1, 0].argmax()) == 5 and spectra[0, 1, 0, 5] > 1
    with pytest.raises(HFMError, match="no waveform to reconstruct"):
        mae.reconstruct(torch.zeros(1, 3, 50), mae(torch.zeros(1, 3, 50)))
    assert type(create_model("seismic-mae-tiny", target="waveform")).__name__ == "MaskedAutoencoder"
    with pytest.raises(HFMError, match="'waveform' or 'spectrum'"):
        create_model("seismic-mae-tiny", target="phase")
    # unlike the raw-sample target, whose loss stays at the variance, the spectral loss falls within a short run
    data = synthetic_windows(64, 5, 1000)
    pretrain_windows(data, tmp_path / "run", RunSettings(steps=30, batch_size=16, progress=False), samples=1000)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.6 * losses[0]
