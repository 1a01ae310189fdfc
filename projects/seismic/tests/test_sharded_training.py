"""Training streams a sharded SeisBench dataset (issue 18): the streamed windows are the in-memory path's, and the
pretrain and fine-tune shortcuts train from the shards, curated by `hfm seismic curate` from PhaseNet's real NCEDC
windows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from hfm.seismic.cli import app
from hfm.seismic.tasks import seismic_mae, seismic_onset, seismic_pick
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shard_loader import ShardStream
from hfm.shared.testing.sharding import curate_whole_and_sharded


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> tuple[Path, Path]:
    """The 154 windows curated whole and in shards of 40."""
    try:
        raw = require_data("seismic") / "phasenet-ncedc" / "dataset" / "waveform_train"
    except DataUnavailable as error:
        pytest.skip(str(error))
    args = [str(raw), "--source", "npz", "--name", "t", "--license", "GPL-3.0-only", "--creator", "T"]
    return curate_whole_and_sharded(app, args, tmp_path_factory.mktemp("seismic-stream"), shard_size=40)


def test_the_streamed_windows_are_those_of_the_in_memory_path(curated):
    whole, sharded = curated
    options = {"samples": 3000, "normalization": "component"}
    memory, stream = seismic_mae({"dataset": str(whole), **options}), seismic_mae({"dataset": str(sharded), **options})
    expected, streamed = memory.train_dataset(), stream.train_dataset()
    assert isinstance(streamed, ShardStream) and len(streamed.shards) == 4
    items = list(streamed)  # no seed: shards in order, rows in order, as the whole dataset
    assert len(items) == len(expected) == len(streamed) >= 100  # the train split only
    assert torch.allclose(torch.stack(items), expected.x, atol=1e-5)

    memory_pick = seismic_pick({"dataset": str(whole), "samples": 3000}).train_dataset()
    pairs = list(seismic_pick({"dataset": str(sharded), "samples": 3000}).train_dataset())
    for index in (0, 7, len(pairs) - 1):
        for got, want in zip(pairs[index], memory_pick[index], strict=True):
            assert torch.equal(got, want)
    with pytest.raises(HFMError, match=r"label_fraction 0\.5 needs an unsharded dataset"):
        seismic_pick({"dataset": str(sharded), "label_fraction": 0.5})


def run_cli(*args: str) -> None:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_pretrain_and_finetune_train_from_the_shards(curated, tmp_path):
    _, sharded = curated
    common = ["--steps", "4", "--batch-size", "8", "--samples", "1000", "--set", "train.progress=false"]
    run_cli("pretrain", str(sharded), "--out", str(tmp_path / "mae"), *common, "--set", "data.num_workers=2")
    state = json.loads(next((tmp_path / "mae/run/checkpoints").glob("step-*/state.json")).read_text())
    assert state["data"]["stream"] == [{"epoch": 0, "batches": 4}]
    losses = [json.loads(line)["loss"] for line in (tmp_path / "mae/run/metrics.jsonl").read_text().splitlines()]
    assert losses and all(0 < loss < 10 for loss in losses)
    pick = tmp_path / "pick"
    run_cli("finetune", str(sharded), "--out", str(pick), "--init", str(tmp_path / "mae/model"), *common)
    assert json.loads((pick / "run/summary.json").read_text())["status"] == "completed"
    assert (pick / "model/model.safetensors").is_file()


def test_onset_pretraining_runs_on_the_curated_folder_and_refuses_its_shards(curated, tmp_path):
    whole, sharded = curated
    common = ["--steps", "3", "--batch-size", "8", "--refiner-depth", "2", "--set", "train.progress=false"]
    run_cli("pretrain-onset", str(whole), "--out", str(tmp_path / "onset"), *common)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "onset/run/metrics.jsonl").read_text().splitlines()]
    assert len(losses) == 3 and all(0 < loss < 10 for loss in losses)  # standardised targets: about 1 at the start
    assert len(seismic_onset({"dataset": str(whole)}).train_dataset()) == len(
        seismic_mae({"dataset": str(whole)}).train_dataset()
    )
    with pytest.raises(HFMError, match=r"sharded; the onset targets are standardised over the whole corpus"):
        seismic_onset({"dataset": str(sharded)})
