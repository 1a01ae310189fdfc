"""Streaming a sharded dataset into training: shards split over ranks and DataLoader workers, exact resume.

Each epoch the shard order is a permutation drawn from (seed, epoch) (in file order without a seed); rank r takes
every world_size-th shard from r, and DataLoader worker w of W every W-th of those. A worker reads its shards one
after the other through the domain's format, so nothing but one shard's reader and the per-shard sample counts (from
the shard manifests) is held: no index of the samples, no array of the dataset.

The position is (epoch, batches this rank consumed). PyTorch's DataLoader takes batches from its workers in turn,
skipping a worker once it is exhausted; from the per-worker sample counts the loader works out how many batches each
worker had delivered and each worker skips exactly those samples, so a resumed run sees the very batches an
uninterrupted one would have seen next (the worker whose turn it was becomes worker 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from hfm.shared.contracts import Sample
from hfm.shared.errors import HFMError
from hfm.shared.formats import DatasetFormat
from hfm.shared.shard_layout import finished_shards, is_sharded, read_shard_manifest, require_complete


def tensors(key: str, sample: Sample) -> dict[str, Any]:
    """The default record: the key and every array as a tensor."""
    return {"key": key, **{name: torch.from_numpy(np.asarray(array)) for name, array in sample.arrays.items()}}


def batches_per_worker(samples: list[int], batch_size: int, consumed: int) -> tuple[list[int], int]:
    """How many of its batches each worker had delivered after `consumed` batches taken in turn (exhausted ones
    skipped), and which worker's turn is next."""
    left = [math.ceil(n / batch_size) for n in samples]
    if consumed > sum(left):
        raise HFMError(f"data position: {consumed} batches consumed, but the epoch has only {sum(left)}")
    taken = [0] * len(samples)
    turn = 0
    while consumed:
        active = [w for w in range(len(samples)) if taken[w] < left[w]]
        rounds = min(min(left[w] - taken[w] for w in active), consumed // len(active))
        served = active if rounds else active[:consumed]  # whole rounds at once, else a last partial round
        for w in served:
            taken[w] += max(rounds, 1)
        consumed -= len(served) * max(rounds, 1)
        turn = (served[-1] + 1) % len(samples)
    return taken, turn


class ShardStream(IterableDataset):
    """The samples of one rank's shards; set `position` before iterating (the `ShardLoader` does)."""

    def __init__(
        self,
        root: str | Path,
        fmt: DatasetFormat,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int | None = None,
        transform: Callable[[str, Sample], Any] = tensors,
    ) -> None:
        self.root = Path(root)
        require_complete(self.root)
        if not is_sharded(self.root):
            raise HFMError(f"{self.root}: not a sharded dataset (no shards/); curate it with a shard size")
        if not 0 <= rank < world_size:
            raise HFMError(f"rank {rank} of world size {world_size}: needs 0 <= rank < world size")
        self.fmt, self.rank, self.world_size, self.seed, self.transform = fmt, rank, world_size, seed, transform
        self.shards = finished_shards(self.root)
        self.counts = [read_shard_manifest(s).written for s in self.shards]
        self.epoch = 0
        self.skip: list[int] = []  # samples each worker's share skips at the start (set from the position)
        self.turn = 0  # the share whose batch comes next: DataLoader's worker 0 takes it, so the turns line up

    def rank_shards(self, epoch: int) -> list[int]:
        order = np.arange(len(self.shards))
        if self.seed is not None:
            order = np.random.default_rng((self.seed, epoch)).permutation(order)
        return [int(i) for i in order[self.rank :: self.world_size]]

    def worker_samples(self, epoch: int, workers: int) -> list[int]:
        mine = self.rank_shards(epoch)
        return [sum(self.counts[i] for i in mine[w::workers]) for w in range(workers)]

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        worker = (worker + self.turn) % workers
        skip = self.skip[worker] if self.skip else 0
        for index in self.rank_shards(self.epoch)[worker::workers]:
            if skip >= self.counts[index]:  # a whole shard already seen: not even opened
                skip -= self.counts[index]
                continue
            for key, sample in self.fmt.iter_samples(self.shards[index]):
                if skip:
                    skip -= 1
                    continue
                yield self.transform(key, sample)


class ShardLoader:
    """A DataLoader over a `ShardStream` that counts the batches consumed: `state_dict` / `load_state_dict`."""

    def __init__(self, stream: ShardStream, batch_size: int, num_workers: int = 0, **loader_options: Any) -> None:
        self.stream, self.batch_size, self.num_workers = stream, batch_size, num_workers
        self.loader_options = loader_options
        self.epoch = 0
        self.batches = 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batches": self.batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.batches = int(state["epoch"]), int(state["batches"])

    def __iter__(self) -> Iterator[Any]:
        workers = max(self.num_workers, 1)
        samples = self.stream.worker_samples(self.epoch, workers)
        taken, self.stream.turn = batches_per_worker(samples, self.batch_size, self.batches)
        self.stream.epoch = self.epoch
        self.stream.skip = [min(t * self.batch_size, n) for t, n in zip(taken, samples, strict=True)]
        loader = DataLoader(
            self.stream, batch_size=self.batch_size, num_workers=self.num_workers, **self.loader_options
        )
        for batch in loader:
            self.batches += 1
            yield batch
        self.epoch, self.batches = self.epoch + 1, 0
