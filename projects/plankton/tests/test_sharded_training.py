"""Training streams a sharded plankton dataset (issue 18): the streamed items are the in-memory path's, and the
pretrain and fine-tune shortcuts train from the shards, curated by `hfm plankton curate` from real IFCB images."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import hfm.plankton.data.stream as stream_module
from hfm.plankton.cli import app
from hfm.plankton.data.stream import PlanktonShards
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


def same_items(a: list, b: list) -> bool:
    pairs = list(zip(a, b, strict=True))
    return all(len(x) == len(y) and all(torch.equal(u, v) for u, v in zip(x, y, strict=True)) for x, y in pairs)


def test_a_stream_parses_each_shard_table_once_within_its_bound(curated, monkeypatch):
    _, sharded = curated
    parsed: list[Path] = []
    real_rows = stream_module.table_rows
    monkeypatch.setattr(stream_module, "table_rows", lambda files: parsed.append(files.source) or real_rows(files))
    classes = ["Ciliates", "Diatoms", "Flagellates"]
    stream = ShardStream(sharded, PlanktonShards(classes))
    shards = len(stream.shards)
    assert len(parsed) == shards  # the classifier's counts: one parse of each table
    first, second = list(stream), list(stream)
    assert len(parsed) == shards and len(first) == len(stream) >= 28  # both passes read the tables from the cache
    assert same_items(first, second)

    parsed.clear()
    uncached = ShardStream(sharded, PlanktonShards(classes, cached_rows=0))
    assert same_items(list(uncached), first) and same_items(list(uncached), first)
    assert len(parsed) == 3 * shards  # the counts, then each pass parses every table again

    bounded = PlanktonShards(classes, cached_rows=6)
    small = ShardStream(sharded, bounded)
    kept = list(bounded._cache)
    assert 1 <= len(kept) < shards and kept == small.shards[-len(kept) :]  # the newest shards stay
    assert sum(len(items.images) for items in bounded._cache.values()) <= 6
    assert same_items(list(small), first)
    assert sum(len(items.images) for items in bounded._cache.values()) <= 6
