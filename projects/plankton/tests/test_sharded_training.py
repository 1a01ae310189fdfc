"""Training streams a sharded plankton dataset (issue 18): the streamed items are the in-memory path's, and the
pretrain and fine-tune shortcuts train from the shards, curated by `hfm plankton curate` from real IFCB images."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from hfm.plankton.cli import app
from hfm.plankton.tasks import build_plankton_classify_task, build_plankton_mae_task
from hfm.plankton.training import finetune, pretrain
from hfm.shared.shard_loader import ShardStream
from hfm.shared.shortcuts import RunSettings
from hfm.shared.testing.sharding import curate_whole_and_sharded


@pytest.fixture(scope="module")
def curated(tmp_path_factory, real_ifcb_images) -> tuple[Path, Path]:
    """30 real WHOI-wiki IFCB images of three groups, curated whole and in shards of 4."""
    folder = tmp_path_factory.mktemp("plankton-stream")
    real_ifcb_images(folder / "raw", groups=("Ciliates", "Diatoms", "Flagellates"), per_group=10)
    args = [str(folder / "raw"), "--name", "t", "--license", "MIT", "--creator", "WHOI", "--kind", "folder"]
    return curate_whole_and_sharded(app, [*args, "--pixel-size", "0.27"], folder, shard_size=4)


def test_the_streamed_items_are_those_of_the_in_memory_path(curated):
    whole, sharded = curated
    mae, streamed = build_plankton_mae_task({"dataset": str(whole)}), build_plankton_mae_task({"dataset": str(sharded)})
    stream = streamed.train_dataset()
    assert isinstance(stream, ShardStream) and len(stream.shards) >= 7
    assert streamed.model_config == mae.model_config
    items = [x for (x,) in stream]  # no seed: shards in order, each in object order, as the whole dataset
    assert len(items) == len(mae.inputs) >= 28
    assert torch.equal(torch.stack(items), mae.inputs)

    classify = build_plankton_classify_task({"dataset": str(whole)})
    classify_streamed = build_plankton_classify_task({"dataset": str(sharded)})
    assert classify_streamed.classes == classify.classes == ["Ciliates", "Diatoms", "Flagellates"]
    assert torch.allclose(classify_streamed.weights, classify.weights)
    pairs = list(classify_streamed.train_dataset())
    x, y = classify.train_dataset().tensors
    assert torch.equal(torch.stack([p[0] for p in pairs]), x)
    assert torch.equal(torch.stack([p[1] for p in pairs]), y)


def test_pretrain_and_finetune_train_from_the_shards(curated, tmp_path):
    _, sharded = curated
    settings, sizes = (
        RunSettings(steps=6, batch_size=4, progress=False),
        {"patch": 16, "width": 32, "depth": 1, "heads": 2},
    )
    run = pretrain(sharded, tmp_path / "mae", replace(settings, overrides=("data.num_workers=2",)), **sizes)
    state = json.loads(next((tmp_path / "mae/run/checkpoints").glob("step-*/state.json")).read_text())
    assert state["data"]["stream"] == [{"epoch": 0, "batches": 6}]  # 6 of the epoch's batches, saved for resume
    losses = [json.loads(line)["loss"] for line in (tmp_path / "mae/run/metrics.jsonl").read_text().splitlines()]
    assert len(losses) >= 1 and all(0 < loss < 10 for loss in losses)
    tuned = finetune(sharded, tmp_path / "cls", settings, init=run.model_dir, **sizes)
    assert json.loads((tmp_path / "cls/run/summary.json").read_text())["status"] == "completed"
    assert tuned.model_dir.is_dir()
