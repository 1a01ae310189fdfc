"""End to end from the command line on real data: curate 100 IPOC traces, pretrain a tiny MAE on the train split
(`hfm train`, task mae), export it (`hfm models export`), probe magnitude classes (`hfm evaluate probe`)."""

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from typer.testing import CliRunner

from hfm.shared.artifacts import load_card, load_pretrained
from hfm.shared.cli.main import app

CONTRACT = {
    "sample": {
        "name": "ipoc-trace",
        "arrays": [
            {"name": "waveform", "dims": ["channel", "time"], "dtype": "float32", "shape": [3, 1200], "units": "counts"}
        ],
    }
}
RUN = {
    "run": {"seed": 0},
    "task": {
        "name": "mae",
        "array": "waveform",
        "tokenizer": {"kind": "series", "patch_len": 40},
        "trunk": "trunk-tiny",
        "trunk_overrides": {"width": 64, "depth": 2, "heads": 4},
        "mae": {"mask_ratio": 0.75, "decoder_width": 64, "decoder_depth": 1, "decoder_heads": 4},
        "normalize": "sample",
        "split": "train",  # pretraining never sees the test traces
    },
    "train": {"steps": 40, "batch_size": 16, "log_every": 10, "ckpt_every": 40, "progress": False},
    "optim": {"lr": 0.001, "warmup_steps": 5},
}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def hfm(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def curated_ipoc(shared_data: Path, tmp_path: Path) -> Path:
    """The 100 real traces of seisbench-dummy as .npz files, curated into hfm-arrays with their split and magnitude."""
    source = shared_data / "seismic" / "seisbench-dummy"
    meta = pd.read_csv(source / "metadata.csv")
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = []
    with h5py.File(source / "waveforms.hdf5", "r") as h5:
        for i, row in meta.iterrows():
            bucket, rest = row["trace_name"].split("$")
            np.savez(raw / f"trace{i:03d}.npz", waveform=h5["data"][bucket][int(rest.split(",")[0])].astype(np.float32))
            rows.append({"key": f"trace{i:03d}", "split": row["split"], "source_magnitude": row["source_magnitude"]})
    pd.DataFrame(rows).to_csv(tmp_path / "metadata.csv", index=False)
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(CONTRACT))
    out = tmp_path / "ipoc"
    args = ["curate", "arrays", str(raw), str(out), "--contract", str(tmp_path / "contract.yaml")]
    args += ["--metadata", str(tmp_path / "metadata.csv"), "--name", "ipoc-pb01", "--license", "GPL-3.0-only"]
    assert "written 100 + quarantined 0" in hfm(*args, "--creator", "IPOC network", "--quiet")
    return out


def test_pretrain_export_and_probe_from_the_cli(shared_data, tmp_path):
    dataset = curated_ipoc(shared_data, tmp_path)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**RUN, "task": {**RUN["task"], "dataset": str(dataset)}}))
    run = tmp_path / "run"
    assert "completed at step 40" in hfm("train", str(config), "--out-dir", str(run))

    losses = [json.loads(line)["mae_loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 4
    # Normalised targets: predicting each patch's mean costs 1.0; the untrained decoder starts well above that.
    assert losses[0] > 1.05 and losses[-1] < 0.95 * losses[0], losses

    artifact = tmp_path / "artifact"
    out = hfm("models", "export", str(run), str(artifact), "--intended-use", "tests", "--limitations", "40 steps")
    assert "matched" in out and "0 new, 0 unused" in out
    card = load_card(artifact)
    assert card.data[0].name == "ipoc-pb01" and card.training["task"]["split"] == "train"
    assert card.metrics["mae_loss"] == pytest.approx(losses[-1])
    model, report = load_pretrained(artifact)
    assert not report.missing and model.encoder.tokenizer.patch_len == 40
    # Without final/ (a preempted run) the newest checkpoint is exported: here step 40, the same weights.
    shutil.rmtree(run / "final")
    hfm("models", "export", str(run), str(tmp_path / "from-ckpt"), "--intended-use", "t", "--limitations", "t")
    assert (tmp_path / "from-ckpt" / "model.safetensors").read_bytes() == (artifact / "model.safetensors").read_bytes()
    assert load_card(tmp_path / "from-ckpt").training["weights_from"] == "checkpoints/step-000040/model.safetensors"

    report_dir = tmp_path / "eval"
    out = hfm(
        "evaluate", "probe", str(artifact), str(dataset), "--array", "waveform", "--label", "source_magnitude",
        "--bins", "2", "--fractions", "0.1,1", "--seeds", "3", "--out", str(report_dir),
    )  # fmt: skip
    assert "accuracy: pretrained" in out
    results = json.loads((report_dir / "results.json").read_text())
    pretrained, random_init = results["probes"]["pretrained"], results["probes"]["random init"]
    assert (pretrained["n_train"], pretrained["n_test"]) == (60, 30)
    # Two magnitude classes split at the training median; the majority class of the training split scores
    # 0.467 on the 30 test traces. Frozen embeddings must beat that clearly.
    assert pretrained["baseline"] == pytest.approx(14 / 30)
    assert pretrained["value"] >= pretrained["baseline"] + 0.2, pretrained
    assert random_init["baseline"] == pretrained["baseline"]
    assert [p["fraction"] for p in results["curves"][0]["points"]] == [0.1, 1.0]
    assert (report_dir / "label_efficiency.png").stat().st_size > 10_000
