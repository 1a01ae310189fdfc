"""Streaming a sharded plankton dataset into training (issue 18): one shard's EcoTaxa TSV and images at a time,
loose in the shard folder or packed in its one zip (`hfm plankton curate --pack`, `shard_files`).

The items are those of the in-memory path (`load_curated` + `model_input`), equal to the bit: `(input,)` for masked
autoencoding, and `(input, class index)` of the validated objects with a taxon for the classifier; only the per-shard
counts and, for the classifier, the count of each taxon are held. A shard's table is our own writer's TSV, checked
when it was curated: training reads its few columns with the csv module (`shard_rows`) instead of applying the
EcoTaxa import rules again every epoch (a tenth of a second per shard), and decodes the 16-bit PNGs directly.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from hfm.plankton.data.shard_files import ShardFiles, open_shard
from hfm.plankton.format import EcoTaxaFormat
from hfm.plankton.tokenizer import model_input
from hfm.shared.errors import HFMError
from hfm.shared.shard_layout import ShardManifest, finished_shards
from hfm.shared.shard_loader import ShardReader, ShardStream


def labelled(table: pd.DataFrame) -> np.ndarray:
    """The objects a classifier learns from: validated, with a taxon."""
    return ((table["annotation_status"] == "validated") & table["taxon"].notna()).to_numpy()


@dataclass(frozen=True)
class ShardRow:
    image_path: str  # relative to the shard folder
    pixel_size_um: float
    taxon: str
    labelled: bool  # validated, with a taxon


def shard_rows(shard: Path) -> list[ShardRow]:
    """The rows of a curated shard's TSV (loose or packed), in file order (that of `EcoTaxaFormat.iter_samples`)."""
    with open_shard(shard) as files:
        return table_rows(files)


def table_rows(files: ShardFiles) -> list[ShardRow]:
    try:
        with files.table() as handle:
            rows = csv.reader(handle, delimiter="\t")
            header = next(rows)
            next(rows)  # the [t]/[f] type row
            names = ("img_file_name", "process_pixel", "object_annotation_category", "object_annotation_status")
            image, pixel, taxon, status = (header.index(name) for name in names)
            return [
                ShardRow(r[image], float(np.float32(r[pixel])), r[taxon], r[status] == "validated" and r[taxon] != "")
                for r in rows
            ]
    except (OSError, StopIteration, ValueError, IndexError) as error:
        raise HFMError(f"{files.source}: not a curated plankton shard table ({error!r})") from error


def taxon_counts(root: str | Path) -> Counter[str]:
    """How many labelled objects each taxon has over all shards (one shard's table at a time)."""
    counts: Counter[str] = Counter()
    for shard in finished_shards(root):
        counts.update(row.taxon for row in shard_rows(shard) if row.labelled)
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
        self.classes = None if classes is None else {taxon: index for index, taxon in enumerate(classes)}

    def count(self, shard: Path, manifest: ShardManifest) -> int:
        if self.classes is None:
            return manifest.written
        return sum(row.labelled for row in shard_rows(shard))

    def read(self, shard: Path, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        with open_shard(shard) as files:  # a packed shard's zip is opened once, here
            for row in table_rows(files):
                if self.classes is not None and not row.labelled:
                    continue
                relative = Path(row.image_path)
                if relative.is_absolute() or ".." in relative.parts:  # our table, but a shard can be tampered with
                    raise HFMError(f"{files.source}: image path {row.image_path!r} leaves the shard")
                encoded = files.image(row.image_path)
                try:
                    with Image.open(io.BytesIO(encoded)) as image:
                        grey = np.asarray(image, dtype=np.float64) / 65535.0  # as the format's decoder reads 16-bit
                except (OSError, ValueError) as error:  # PIL's UnidentifiedImageError is an OSError
                    raise HFMError(f"{files.source}: cannot decode image {row.image_path!r} ({error!r})") from error
                x = model_input(grey[None], np.asarray([row.pixel_size_um]))[0]
                yield (x,) if self.classes is None else (x, torch.tensor(self.classes[row.taxon]))


def plankton_stream(root: str | Path, classes: list[str] | None = None) -> ShardStream:
    return ShardStream(root, PlanktonShards(classes))
