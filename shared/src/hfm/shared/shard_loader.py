"""Streaming a sharded dataset into training: shards split over ranks and DataLoader workers, exact resume.

Each epoch the shard order is a permutation drawn from (seed, epoch) (in file order without a seed); rank r takes
every world_size-th shard from r, and DataLoader worker w of W every W-th of those. A worker reads its shards one
after the other through the domain's format or a `ShardReader` (a split only, crops drawn inside the stream), so
nothing but one shard's reader and the per-shard item counts (from the shard manifests) is held: no index of the
samples, no array of the dataset. A reader's random draws come from a generator seeded by (seed, epoch, shard).

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
from hfm.shared.shard_layout import (
    ShardManifest,
    finished_shards,
    is_sharded,
    read_shard_manifest,
    require_complete,
)


def tensors(key: str, sample: Sample) -> dict[str, Any]:
    """The default record: the key and every array as a tensor."""
    return {"key": key, **{name: torch.from_numpy(np.asarray(array)) for name, array in sample.arrays.items()}}


class ShardReader:
    """How training reads one shard: the items it yields, and how many. The count is taken once per shard when the
    stream is built, from its manifest or its metadata, never its data (so a resumed loader skips whole shards
    unopened). A domain subclasses it where a training item is not one curated sample: a split only, labelled
    objects only, crops drawn inside the stream, several items per sample."""

    def count(self, shard: Path, manifest: ShardManifest) -> int:
        return manifest.written

    def read(self, shard: Path, rng: np.random.Generator) -> Iterator[Any]:
        """The shard's items, `count(manifest)` of them; draw any randomness from `rng` (seeded by the run seed,
        the epoch and the shard), so that a resumed run draws the same."""
        raise NotImplementedError


class FormatReader(ShardReader):
    """Every sample of the shard through the domain's format, as `transform(key, sample)`."""

    def __init__(self, fmt: DatasetFormat, transform: Callable[[str, Sample], Any] = tensors) -> None:
        self.fmt, self.transform = fmt, transform

    def read(self, shard: Path, rng: np.random.Generator) -> Iterator[Any]:
        for key, sample in self.fmt.iter_samples(shard):
            yield self.transform(key, sample)


def batches_per_worker(
    samples: list[int], batch_size: int, consumed: int, drop_last: bool = False
) -> tuple[list[int], int]:
    """How many of its batches each worker had delivered after `consumed` batches taken in turn (exhausted ones
    skipped), and which worker's turn is next. With `drop_last` a worker's incomplete last batch does not count."""
    left = [n // batch_size if drop_last else math.ceil(n / batch_size) for n in samples]
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


def shuffled(items: Iterator[Any], size: int, rng: np.random.Generator) -> Iterator[Any]:
    """A shuffle buffer of `size` items (WebDataset's): each new item swaps with a random one that is emitted."""
    buffer: list[Any] = []
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        index = int(rng.integers(size))
        yield buffer[index]
        buffer[index] = item
    for index in rng.permutation(len(buffer)):
        yield buffer[index]


class ShardStream(IterableDataset):
    """The items of one rank's shards; set `position` before iterating (the `ShardLoader` does).

    `source` is the domain's format (every sample, as `transform(key, sample)`) or a `ShardReader`. With a seed,
    `shuffle_buffer` > 1 also shuffles the items within each shard through a buffer of that many items.
    """

    def __init__(
        self,
        root: str | Path,
        source: DatasetFormat | ShardReader,
        *,
        rank: int = 0,
        world_size: int = 1,
        seed: int | None = None,
        transform: Callable[[str, Sample], Any] = tensors,
        shuffle_buffer: int = 0,
    ) -> None:
        self.root = Path(root)
        require_complete(self.root)
        if not is_sharded(self.root):
            raise HFMError(f"{self.root}: not a sharded dataset (no shards/); curate it with a shard size")
        self.reader = source if isinstance(source, ShardReader) else FormatReader(source, transform)
        self.shards = finished_shards(self.root)
        self.counts = [self.reader.count(s, read_shard_manifest(s)) for s in self.shards]
        self.shuffle_buffer = shuffle_buffer
        self.place(rank, world_size, seed)
        self.epoch = 0
        self.skip: list[int] = []  # items each worker's share skips at the start (set from the position)
        self.turn = 0  # the share whose batch comes next: DataLoader's worker 0 takes it, so the turns line up

    def place(self, rank: int, world_size: int, seed: int | None) -> None:
        """Which rank of how many reads, and the seed of the shard order and of the readers' draws."""
        if not 0 <= rank < world_size:
            raise HFMError(f"rank {rank} of world size {world_size}: needs 0 <= rank < world size")
        self.rank, self.world_size, self.seed = rank, world_size, seed

    def __len__(self) -> int:
        """Items in the whole dataset (all ranks) per epoch."""
        return sum(self.counts)

    def rank_shards(self, epoch: int) -> list[int]:
        order = np.arange(len(self.shards))
        if self.seed is not None:
            order = np.random.default_rng((self.seed, epoch)).permutation(order)
        return [int(i) for i in order[self.rank :: self.world_size]]

    def worker_samples(self, epoch: int, workers: int) -> list[int]:
        mine = self.rank_shards(epoch)
        return [sum(self.counts[i] for i in mine[w::workers]) for w in range(workers)]

    def shard_items(self, index: int, skip: int = 0) -> Iterator[Any]:
        """Shard `index`'s items in this epoch's order after the first `skip`, checked against the count the
        position relies on. One generator between the reader and the DataLoader: each layer costs every item."""
        seed = (self.seed or 0, self.epoch, index)
        items = self.reader.read(self.shards[index], np.random.default_rng((*seed, 0)))
        if self.seed is not None and self.shuffle_buffer > 1:
            items = shuffled(items, self.shuffle_buffer, np.random.default_rng((*seed, 1)))
        count = 0
        for item in items:
            count += 1
            if count > skip:
                yield item
        if count != self.counts[index]:
            raise HFMError(
                f"{self.shards[index]}: {count} training items read, but its manifest gives "
                f"{self.counts[index]}; the shard changed since curation, or the reader counts wrongly"
            )

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        worker = (worker + self.turn) % workers
        skip = self.skip[worker] if self.skip else 0
        for index in self.rank_shards(self.epoch)[worker::workers]:
            if skip >= self.counts[index]:  # a whole shard already seen: not even opened
                skip -= self.counts[index]
                continue
            yield from self.shard_items(index, skip)
            skip = 0


class ShardLoader:
    """A DataLoader over a `ShardStream` that counts the batches consumed: `state_dict` / `load_state_dict`. With
    `drop_last` each worker's incomplete last batch of an epoch is dropped (batches all of one size)."""

    def __init__(
        self,
        stream: ShardStream,
        batch_size: int,
        num_workers: int = 0,
        drop_last: bool = False,
        **loader_options: Any,
    ) -> None:
        self.stream, self.batch_size, self.num_workers = stream, batch_size, num_workers
        self.drop_last, self.loader_options = drop_last, loader_options
        self.epoch = 0
        self.batches = 0

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batches": self.batches}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.batches = int(state["epoch"]), int(state["batches"])

    def batches_in_epoch(self, epoch: int) -> int:
        samples = self.stream.worker_samples(epoch, max(self.num_workers, 1))
        return sum(n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size) for n in samples)

    def __iter__(self) -> Iterator[Any]:
        workers = max(self.num_workers, 1)
        samples = self.stream.worker_samples(self.epoch, workers)
        taken, self.stream.turn = batches_per_worker(samples, self.batch_size, self.batches, self.drop_last)
        self.stream.epoch = self.epoch
        self.stream.skip = [min(t * self.batch_size, n) for t, n in zip(taken, samples, strict=True)]
        # Worker seeds from their own generator: starting a loader (each epoch, on resume) takes nothing from the
        # global RNG, whose stream (dropout, masking) a resumed run must continue exactly.
        s = self.stream
        generator = torch.Generator().manual_seed(hash((s.seed or 0, self.epoch, s.rank)) % 2**63)
        loader = DataLoader(
            s,
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            drop_last=self.drop_last,
            generator=generator,
            **self.loader_options,
        )
        for batch in loader:
            self.batches += 1
            yield batch
        self.epoch, self.batches = self.epoch + 1, 0
