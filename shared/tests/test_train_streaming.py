"""The trainer streams a sharded dataset (issue 18): a preempted run resumes at the exact next batch, its data
position saved in the checkpoint, and ends with the same weights as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from accelerate.state import AcceleratorState
from torch import nn

from hfm.shared.arraystore import ArrayStoreFormat
from hfm.shared.errors import HFMError
from hfm.shared.shard_layout import ShardManifest
from hfm.shared.shard_loader import ShardReader, ShardStream
from hfm.shared.train.config import load_config
from hfm.shared.train.trainer import Trainer


class NoisyCrops(ShardReader):
    """Each sample with noise drawn inside the stream: its draws must repeat after a resume."""

    def __init__(self) -> None:
        self.fmt = ArrayStoreFormat()

    def count(self, shard: Path, manifest: ShardManifest) -> int:
        return manifest.written

    def read(self, shard: Path, rng: np.random.Generator) -> Any:
        for key, sample in self.fmt.iter_samples(shard):
            x = sample.arrays["x"] + rng.normal(scale=0.1, size=3).astype(np.float32)
            yield {"key": key, "x": torch.from_numpy(x)}


class StreamTask:
    """Regress the sum of x; every batch's keys are recorded, and SIGUSR1 is raised after `preempt_at` batches."""

    def __init__(self, root: Path, preempt_at: int | None = None) -> None:
        self.root, self.preempt_at, self.seen = root, preempt_at, []

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.2), nn.Linear(8, 1))

    def train_dataset(self) -> ShardStream:
        return ShardStream(self.root, NoisyCrops(), shuffle_buffer=3)

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        self.seen.append(list(batch["key"]))
        if len(self.seen) == self.preempt_at:
            os.kill(os.getpid(), signal.SIGUSR1)  # the trainer finishes this step, saves and returns
        x = batch["x"]
        return F.mse_loss(model(x)[:, 0], x.sum(dim=1)), {}


def train(out: Path, root: Path, workers: int, accum: int, preempt_at: int | None = None) -> tuple[Any, StreamTask]:
    AcceleratorState._reset_state(reset_partial_state=True)
    config = load_config(
        None,
        [
            f"run.out_dir={out}",
            "run.seed=5",
            "run.deterministic=true",
            "train.steps=20",
            f"train.batch_size={4 * accum}",
            f"train.grad_accum={accum}",
            "train.ckpt_every=100",
            "train.log_every=4",
            "train.progress=false",
            f"data.num_workers={workers}",
        ],
    )
    task = StreamTask(root, preempt_at)
    return Trainer(config, task).fit(), task


@pytest.mark.parametrize(("workers", "accum"), [(0, 1), (2, 2)])
def test_a_preempted_streaming_run_resumes_at_the_exact_next_batch(tmp_path, sharded_arrays, workers, accum):
    whole, whole_task = train(tmp_path / "whole", sharded_arrays, workers, accum)
    # 62 samples -> 15 batches of 4 an epoch (workers drop their incomplete last one): the run crosses an epoch
    per_epoch = 15 if workers == 0 else 7 + 7  # shares of 32 and 30 samples
    assert whole.status == "completed" and len(whole_task.seen) == 20 * accum > per_epoch
    assert all(len(keys) == 4 for keys in whole_task.seen)
    first_epoch = [k for keys in whole_task.seen[:per_epoch] for k in keys]
    assert len(set(first_epoch)) == len(first_epoch)  # no sample twice within an epoch

    stop = 5 * accum  # after 5 optimiser steps
    part, part_task = train(tmp_path / "cut", sharded_arrays, workers, accum, preempt_at=stop)
    assert (part.status, part.step) == ("preempted", 5)
    state = json.loads((tmp_path / "cut/checkpoints/step-000005/state.json").read_text())
    assert state["data"] == {"seed": 5, "stream": [{"epoch": 0, "batches": stop}]}
    rest, rest_task = train(tmp_path / "cut", sharded_arrays, workers, accum)
    assert (rest.status, rest.resumed_from) == ("completed", 5)
    assert part_task.seen + rest_task.seen == whole_task.seen
    final = "final/model.safetensors"
    assert (tmp_path / "cut" / final).read_bytes() == (tmp_path / "whole" / final).read_bytes()


def test_a_checkpoint_of_indexed_data_is_not_resumed_as_a_stream(tmp_path, sharded_arrays):
    AcceleratorState._reset_state(reset_partial_state=True)
    base = [f"run.out_dir={tmp_path}", "task.samples=32", "train.batch_size=8", "train.progress=false"]
    config = load_config(None, [*base, "train.steps=1"])
    from hfm.shared.train.task import build_task

    Trainer(config, build_task(config.task.name, config.task.options)).fit()
    AcceleratorState._reset_state(reset_partial_state=True)
    config = load_config(None, [*base, "train.steps=2"])
    task = build_task(config.task.name, config.task.options)
    task.train_dataset = lambda: ShardStream(sharded_arrays, ArrayStoreFormat())
    with pytest.raises(HFMError, match="indexed dataset, but the task's is sharded"):
        Trainer(config, task).fit()


def test_a_batch_larger_than_a_ranks_shards_is_refused(tmp_path, sharded_arrays):
    AcceleratorState._reset_state(reset_partial_state=True)
    config = load_config(None, [f"run.out_dir={tmp_path}", "train.batch_size=64", "train.progress=false"])
    with pytest.raises(HFMError, match="gets no whole batch of 64"):
        Trainer(config, StreamTask(sharded_arrays)).fit()


def test_a_holdout_cannot_be_taken_from_a_stream(tmp_path, sharded_arrays):
    AcceleratorState._reset_state(reset_partial_state=True)
    overrides = [f"run.out_dir={tmp_path}", "validation.every=2", "validation.holdout=0.1", "train.progress=false"]
    with pytest.raises(HFMError, match="stream of shards, which has no items to hold out"):
        Trainer(load_config(None, overrides), StreamTask(sharded_arrays)).fit()


def test_a_reader_that_miscounts_its_shard_is_named(sharded_arrays):
    class Short(NoisyCrops):
        def count(self, shard: Path, manifest: ShardManifest) -> int:
            return manifest.written + 1

    with pytest.raises(HFMError, match=r"shard-000000: 8 training items read, but its manifest gives 9"):
        list(ShardStream(sharded_arrays, Short()))
