"""A deterministic, resumable, distributed batch sampler.

The order of one epoch is a permutation drawn from (seed, epoch) alone, so every process computes the same one
without talking to the others, and a resumed run computes it again. Each optimiser step takes the next `global_batch`
indices of the permutation; they are cut into `grad_accum` micro-batches and each micro-batch into `world_size`
equal shards, one per rank. The data position is (epoch, offset = optimiser steps done in this epoch): resuming
skips exactly `offset` steps. The tail of an epoch that does not fill a global batch is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import torch

from hfm.shared.errors import HFMError


@dataclass
class DataPosition:
    seed: int
    epoch: int = 0
    offset: int = 0  # optimiser steps already taken in `epoch`

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def micro_batch(global_batch: int, grad_accum: int, world_size: int) -> int:
    """Samples per process and micro-step; a global batch that does not divide is refused."""
    if global_batch % grad_accum or (global_batch // grad_accum) % world_size:
        raise HFMError(
            f"train.batch_size: {global_batch} must be divisible by train.grad_accum ({grad_accum}) "
            f"x number of processes ({world_size})"
        )
    return global_batch // grad_accum // world_size


class ResumableBatchSampler:
    """Yields this rank's micro-batches (lists of dataset indices), `grad_accum` of them per optimiser step."""

    def __init__(
        self,
        dataset_size: int,
        global_batch: int,
        grad_accum: int,
        rank: int,
        world_size: int,
        position: DataPosition,
        shuffle: bool = True,
    ) -> None:
        per_rank = micro_batch(global_batch, grad_accum, world_size)  # refuses a batch that does not divide
        if dataset_size < global_batch:
            raise HFMError(f"train.batch_size: {global_batch} is larger than the dataset ({dataset_size} samples)")
        self.dataset_size = dataset_size
        self.global_batch = global_batch
        self.grad_accum = grad_accum
        self.rank = rank
        self.world_size = world_size
        self.per_rank = per_rank
        self.position = position
        self.shuffle = shuffle

    @property
    def steps_per_epoch(self) -> int:
        return self.dataset_size // self.global_batch

    def permutation(self, epoch: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.dataset_size)
        generator = torch.Generator().manual_seed(self.position.seed * 1_000_003 + epoch)
        return torch.randperm(self.dataset_size, generator=generator)

    def step_indices(self, epoch: int, step_in_epoch: int, order: torch.Tensor | None = None) -> list[list[int]]:
        """This rank's `grad_accum` micro-batches for one optimiser step."""
        order = self.permutation(epoch) if order is None else order
        micro = self.global_batch // self.grad_accum
        start = step_in_epoch * self.global_batch + self.rank * self.per_rank
        return [order[start + m * micro : start + m * micro + self.per_rank].tolist() for m in range(self.grad_accum)]

    def __iter__(self) -> Iterator[list[int]]:
        """The rest of the current epoch from the current offset: (steps_per_epoch - offset) x grad_accum batches."""
        order = self.permutation(self.position.epoch)
        for step in range(self.position.offset, self.steps_per_epoch):
            yield from self.step_indices(self.position.epoch, step, order)

    def __len__(self) -> int:
        return (self.steps_per_epoch - self.position.offset) * self.grad_accum

    def advance(self) -> None:
        """Record one finished optimiser step; roll over to the next epoch at its end."""
        self.position.offset += 1
        if self.position.offset >= self.steps_per_epoch:
            self.position.epoch += 1
            self.position.offset = 0
