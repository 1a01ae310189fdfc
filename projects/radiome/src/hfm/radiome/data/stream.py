"""Streaming a sharded nnU-Net dataset into training (issue 18): one shard's cases at a time, patches drawn inside
the stream.

Each case of the chosen split is read once per epoch and gives `patches` augmented patches (`random_patch`, as
`PatchDataset` draws them), their seeds drawn from the stream's per-shard generator; an epoch holds about the
`samples_per_epoch` patches of the in-memory path, at least one per case. Only one volume is decoded at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from hfm.radiome.data.patches import augmentations, random_patch
from hfm.radiome.format import DatasetJson, RawCase, list_cases, load_case, read_dataset_json
from hfm.shared.errors import HFMError
from hfm.shared.shard_layout import ShardManifest, finished_shards, is_sharded, require_complete
from hfm.shared.shard_loader import ShardReader, ShardStream


class RadiomeShards(ShardReader):
    """`patches` patches of each case of `split` (None: every case); labelled with a `label_fraction`."""

    def __init__(
        self, split: str | None, patch_size: Sequence[int], patches: int, label_fraction: float | None = None
    ) -> None:
        self.split, self.patches, self.label_fraction = split, patches, label_fraction
        self.transform = augmentations(tuple(int(n) for n in patch_size), label_fraction is not None)

    def cases(self, shard: Path) -> list[RawCase]:
        return [case for case in list_cases(shard) if self.split is None or case.split == self.split]

    def count(self, shard: Path, manifest: ShardManifest) -> int:
        return len(self.cases(shard)) * self.patches

    def read(self, shard: Path, rng: np.random.Generator) -> Iterator[dict[str, torch.Tensor]]:
        info = read_dataset_json(shard)
        for case in self.cases(shard):
            image, label, _, _ = load_case(case, info)
            image, label = image.astype(np.float32), None if label is None else label.astype(np.int64)
            for _ in range(self.patches):
                seed = int(rng.integers(2**32))
                yield random_patch(self.transform, image, label, self.label_fraction, seed, case.key)


def radiome_stream(
    root: str | Path,
    split: str | None,
    patch_size: Sequence[int],
    samples_per_epoch: int,
    label_fraction: float | None = None,
) -> ShardStream:
    """The patches of a sharded dataset's cases of `split`; refused when the split has no case."""
    require_complete(root)
    probe = RadiomeShards(split, patch_size, 1)
    cases = sum(len(probe.cases(shard)) for shard in finished_shards(root))
    if not cases:
        raise HFMError(f"{root}: no {split or ''} cases in the shards' imagesTr/imagesTs")
    patches = max(1, math.ceil(samples_per_epoch / cases))
    return ShardStream(root, RadiomeShards(split, patch_size, patches, label_fraction))


def dataset_info(root: str | Path) -> DatasetJson:
    """The dataset.json of a curated dataset, that of its first shard when sharded (every shard of one curation
    carries the same channels and labels)."""
    require_complete(root)
    shards = finished_shards(root) if is_sharded(root) else []
    return read_dataset_json(shards[0] if shards else root)
