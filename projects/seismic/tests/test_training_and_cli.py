"""Pretraining lowers the MAE loss, the encoder transfers into the picker, and the CLI runs curate -> annotate."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from hfm.seismic.cli import app
from hfm.seismic.data.windows import synthetic_windows
from hfm.seismic.tasks import label_subset, load_encoder_weights
from hfm.seismic.training import finetune, pretrain
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model

TINY = {"width": 32, "depth": 1, "heads": 2, "patch_len": 20}


def test_pretraining_lowers_the_loss_and_transfers_to_the_picker(tmp_path):
    torch.set_num_threads(1)
    windows = synthetic_windows(48, seed=0, samples=400)
    options = {"data": windows, "model_args": TINY}
    _, result = pretrain(options, tmp_path / "mae", steps=30, batch_size=16, lr=3e-3, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "mae" / "metrics.jsonl").read_text().splitlines()]
    assert result.status == "completed" and losses[-1] < 0.9 * losses[0]
    picker = create_model("seismic-picker-tiny", **TINY)
    matched = load_encoder_weights(picker, tmp_path / "mae" / "final")
    assert matched == len([k for k in picker.state_dict() if k.startswith("encoder.")])
    _, _ = finetune(
        {"data": windows, "model_args": TINY, "init": str(tmp_path / "mae" / "final")},
        tmp_path / "pick",
        steps=30,
        batch_size=16,
        lr=3e-3,
        progress=False,
    )
    losses = [json.loads(line)["loss"] for line in (tmp_path / "pick" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.8 * losses[0]


def test_label_subset_keeps_both_classes_and_is_seeded():
    windows = synthetic_windows(100, seed=1, samples=200)
    small = label_subset(windows, 0.01, seed=3)
    assert len(small) == 2 and small.is_event.sum() == 1
    np.testing.assert_array_equal(label_subset(windows, 0.1, 3).waveforms, label_subset(windows, 0.1, 3).waveforms)


def test_cli_curates_finetunes_and_annotates(raw_folder, tmp_path):
    torch.set_num_threads(1)
    folder, picks = raw_folder
    runner = CliRunner()
    dataset = tmp_path / "dataset"
    result = runner.invoke(app, ["curate", str(folder), str(picks), str(dataset), "--window", "4", "-q"])
    assert result.exit_code == 0, result.output
    assert "quarantined" in result.output
    run = tmp_path / "run"
    result = runner.invoke(
        app, ["finetune", str(run), "--synthetic", "16", "--steps", "2", "--batch-size", "8", "--samples", "400"]
    )
    assert result.exit_code == 0, result.output
    assert (run / "model" / "model.safetensors").is_file() and (run / "model" / "model_card.json").is_file()
    out, xml = tmp_path / "picks.csv", tmp_path / "picks.xml"
    waveform = folder / "good.mseed"
    args = ["annotate", str(run / "model"), str(waveform), "-o", str(out), "--quakeml", str(xml)]
    result = runner.invoke(app, [*args, "--p-threshold", "0.0", "--s-threshold", "0.0"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) > 0 and set(table["phase"]) <= {"P", "S"}
    import obspy

    catalog = obspy.read_events(str(xml))
    assert len(catalog[0].picks) == len(table)


def test_cli_refuses_an_unknown_data_source(tmp_path):
    result = CliRunner().invoke(app, ["pretrain", str(tmp_path / "run"), "--data", str(tmp_path / "nowhere")])
    assert result.exit_code != 0
    assert "neither 'synthetic' nor a SeisBench-format folder" in str(result.exception)


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
    pretrain({"data": data, "samples": 1000}, tmp_path / "run", steps=30, batch_size=16, seed=0, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.6 * losses[0]
