"""Streaming a sharded plankton dataset into training (issue 18): one shard's EcoTaxa TSV and images at a time.

The items are those of the in-memory path (`load_curated` + `model_input`): `(input,)` for masked autoencoding, and
`(input, class index)` of the validated objects with a taxon for the classifier; only the per-shard counts and, for
the classifier, the count of each taxon are held.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hfm.plankton.format import EcoTaxaFormat
from hfm.plankton.tokenizer import model_input
from hfm.shared.errors import HFMError
from hfm.shared.shard_layout import ShardManifest, finished_shards
from hfm.shared.shard_loader import ShardReader, ShardStream


def labelled(table: pd.DataFrame) -> np.ndarray:
    """The objects a classifier learns from: validated, with a taxon."""
    return ((table["annotation_status"] == "validated") & table["taxon"].notna()).to_numpy()


def taxon_counts(root: str | Path) -> Counter[str]:
    """How many labelled objects each taxon has over all shards (one shard's table at a time)."""
    counts: Counter[str] = Counter()
    for shard in finished_shards(root):
        table = EcoTaxaFormat().metadata(shard)
        counts.update(table["taxon"][labelled(table)].astype(str))
    return counts


def canvas_size(root: str | Path) -> int:
    """The canvas side of a sharded dataset, from its first image (curation gives all one size)."""
    for shard in finished_shards(root):
        for _, sample in EcoTaxaFormat().iter_samples(shard):
            return int(sample.arrays["image"].shape[-1])
    raise HFMError(f"{root}: the dataset holds no images")


class PlanktonShards(ShardReader):
    """Model inputs of a shard's objects; with `classes`, only the labelled ones, with their class index."""

    def __init__(self, classes: list[str] | None = None) -> None:
        self.fmt = EcoTaxaFormat()
        self.classes = None if classes is None else {taxon: index for index, taxon in enumerate(classes)}

    def count(self, shard: Path, manifest: ShardManifest) -> int:
        if self.classes is None:
            return manifest.written
        return int(labelled(self.fmt.metadata(shard)).sum())

    def read(self, shard: Path, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        table = self.fmt.metadata(shard) if self.classes is not None else None
        keep, taxa = (labelled(table), table["taxon"].astype(str).tolist()) if table is not None else (None, None)
        for row, (_, sample) in enumerate(self.fmt.iter_samples(shard)):
            if keep is not None and not keep[row]:
                continue
            pixel = np.asarray([float(sample.arrays["pixel_size_um"][0])])
            x = model_input(sample.arrays["image"][:1], pixel)[0]
            if taxa is None or self.classes is None:
                yield (x,)
            else:
                yield x, torch.tensor(self.classes[taxa[row]])


def plankton_stream(root: str | Path, classes: list[str] | None = None) -> ShardStream:
    return ShardStream(root, PlanktonShards(classes))
