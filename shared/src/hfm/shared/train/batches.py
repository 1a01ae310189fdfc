"""Where the trainer's batches come from, and the data position it saves in each checkpoint.

- `IndexedBatches`: a map-style dataset through the trainer's `ResumableBatchSampler`. Every rank computes the same
  position (epoch, optimiser steps done in it), saved as `{"seed", "epoch", "offset"}`.
- `StreamedBatches`: a sharded dataset streamed by a `ShardStream` (a task's `train_dataset()` returns one): rank r
  reads its own shards, so ranks keep their own position (epoch, batches consumed), saved as
  `{"seed", "stream": [one per rank]}`. Epochs follow each other without pause; each worker's incomplete last batch
  is dropped, so every batch has the per-rank micro-batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from hfm.shared.errors import HFMError
from hfm.shared.shard_loader import ShardLoader, ShardStream
from hfm.shared.train.sampler import DataPosition, ResumableBatchSampler


class IndexedBatches:
    streamed = False

    def __init__(
        self,
        dataset: Dataset,
        global_batch: int,
        grad_accum: int,
        rank: int,
        world_size: int,
        seed: int,
        shuffle: bool,
        **loader_options: Any,
    ) -> None:
        self.dataset, self.rank, self.loader_options = dataset, rank, loader_options
        self.position = DataPosition(seed=seed)
        self.sampler = ResumableBatchSampler(
            len(dataset), global_batch, grad_accum, rank, world_size, self.position, shuffle=shuffle
        )
        self._batches: Iterator[Any] | None = None

    @property
    def epoch(self) -> int:
        return self.position.epoch

    def _loader(self) -> Iterator[Any]:
        """Batches from the current data position. Worker seeds come from their own generator, not the global RNG,
        so building a loader (at an epoch start or on resume) does not shift the random stream of the model."""
        p = self.position
        generator = torch.Generator().manual_seed(hash((p.seed, p.epoch, p.offset, self.rank)) % 2**63)
        loader = DataLoader(self.dataset, batch_sampler=self.sampler, generator=generator, **self.loader_options)
        return iter(loader)

    def next_batch(self) -> Any:
        if self._batches is None:
            self._batches = self._loader()
        return next(self._batches)

    def step_done(self) -> None:
        self.sampler.advance()
        if self.position.offset == 0:  # a new epoch: its own permutation
            self._batches = None

    def rank_state(self) -> None:
        return None  # the same on every rank: nothing to gather

    def saved_state(self, ranks: list[Any]) -> dict[str, Any]:
        return self.position.to_dict()

    def restore(self, state: dict[str, Any], world_size: int, warn: Callable[[str], None]) -> None:
        if "stream" in state:
            raise HFMError("the checkpoint's data position is a stream of shards, but the task's data is not sharded")
        self.position.epoch, self.position.offset = state["epoch"], state["offset"]


class StreamedBatches:
    streamed = True

    def __init__(
        self,
        stream: ShardStream,
        micro_batch: int,
        rank: int,
        world_size: int,
        seed: int,
        shuffle: bool,
        **loader_options: Any,
    ) -> None:
        self.seed, self.rank = seed, rank
        stream.place(rank, world_size, seed if shuffle else None)
        self.loader = ShardLoader(stream, micro_batch, drop_last=True, **loader_options)
        if self.loader.batches_in_epoch(0) == 0:
            raise HFMError(
                f"{stream.root}: train.batch_size: rank {rank} gets no whole batch of {micro_batch} from its shards "
                f"({sum(stream.worker_samples(0, max(self.loader.num_workers, 1)))} items in an epoch); "
                "use a smaller batch, fewer data.num_workers or more shards"
            )
        self._batches: Iterator[Any] | None = None

    @property
    def epoch(self) -> int:
        return self.loader.epoch

    def _forever(self) -> Iterator[Any]:
        while True:
            yield from self.loader

    def next_batch(self) -> Any:
        if self._batches is None:
            self._batches = self._forever()
        return next(self._batches)

    def step_done(self) -> None:
        pass  # the loader counts the batches it handed out

    def rank_state(self) -> dict[str, int]:
        return self.loader.state_dict()

    def saved_state(self, ranks: list[Any]) -> dict[str, Any]:
        return {"seed": self.seed, "stream": ranks}

    def restore(self, state: dict[str, Any], world_size: int, warn: Callable[[str], None]) -> None:
        ranks = state.get("stream")
        if ranks is None:
            raise HFMError("the checkpoint's data position is one of an indexed dataset, but the task's is sharded")
        if len(ranks) == world_size:
            self.loader.load_state_dict(ranks[self.rank])
        else:  # ranks read other shards now: start the next epoch, and say that it is no exact continuation
            warn(
                f"warning: the checkpoint has the data positions of {len(ranks)} processes, this run has "
                f"{world_size}; every process starts the next epoch"
            )
            self.loader.load_state_dict({"epoch": max(int(r["epoch"]) for r in ranks) + 1, "batches": 0})
        self._batches = None
