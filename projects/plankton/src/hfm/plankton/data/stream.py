"""Streaming a sharded plankton dataset into training (issue 18): one shard's EcoTaxa TSV and images at a time,
loose in the shard folder or packed in its one zip (`hfm plankton curate --pack`, `shard_files`).

The items are those of the in-memory path (`load_curated` + `model_input`), equal to the bit: `(input,)` for masked
autoencoding, and `(input, class index)` of the validated objects with a taxon for the classifier; only the per-shard
counts and, for the classifier, the count of each taxon are held. A shard's table is our own writer's TSV, checked
when it was curated: training reads its few columns with the csv module (`shard_rows`) instead of applying the
EcoTaxa import rules again every epoch (a tenth of a second per shard), and decodes the 16-bit PNGs directly.

A shard's table is parsed once for the life of the stream, into what its items need (image names, scale channel
values, class indices), and kept in a cache bounded by `cached_rows` table rows (about 0.1 kB a row; the oldest
shards go first): the classifier's item count, taken when the stream is built, and the first epoch's read then share
one parse, and later epochs parse no table while the dataset fits the bound. An item is built as the indexed
`CuratedPlanktonDataset` builds it: one float32 decode into one preallocated array, equal to the bit to `model_input`
(float32 rounding of the float64 quotient is the float32 quotient).
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from hfm.plankton.data.shard_files import LooseShard, ShardFiles, open_shard
from hfm.plankton.format import EcoTaxaFormat
from hfm.plankton.tokenizer import scale_channel
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


@dataclass(frozen=True)
class ShardItems:
    """What a shard's training items need from its table, in table order: the objects streamed (all, or with classes
    the labelled ones), their image names, scale-channel values and class indices (None without classes)."""

    images: list[str]
    scales: np.ndarray  # float32, one per item
    labels: list[int] | None


class PlanktonShards(ShardReader):
    """Model inputs of a shard's objects; with `classes`, only the labelled ones, with their class index."""

    def __init__(self, classes: list[str] | None = None, cached_rows: int = 200_000) -> None:
        self.classes = None if classes is None else {taxon: index for index, taxon in enumerate(classes)}
        self.cached_rows = cached_rows
        self._cache: OrderedDict[Path, ShardItems] = OrderedDict()

    def count(self, shard: Path, manifest: ShardManifest) -> int:
        if self.classes is None:
            return manifest.written
        with open_shard(shard) as files:
            return len(self.items(shard, files).images)

    def items(self, shard: Path, files: ShardFiles) -> ShardItems:
        """The shard's items from the cache, or parsed from its table (and cached within `cached_rows`)."""
        cached = self._cache.get(shard)
        if cached is not None:
            return cached
        rows = [row for row in table_rows(files) if self.classes is None or row.labelled]
        for row in rows:
            relative = Path(row.image_path)
            if relative.is_absolute() or ".." in relative.parts:  # our table, but a shard can be tampered with
                raise HFMError(f"{files.source}: image path {row.image_path!r} leaves the shard")
        items = ShardItems(
            [row.image_path for row in rows],
            scale_channel(np.asarray([row.pixel_size_um for row in rows], dtype=np.float64)),
            None if self.classes is None else [self.classes[row.taxon] for row in rows],
        )
        if len(rows) <= self.cached_rows:
            self._cache[shard] = items
            while sum(len(kept.images) for kept in self._cache.values()) > self.cached_rows:
                self._cache.popitem(last=False)
        return items

    def read(self, shard: Path, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, ...]]:
        with open_shard(shard) as files:  # a packed shard's zip is opened once, here
            items = self.items(shard, files)
            image = _image_reader(files)
            for index, name in enumerate(items.images):
                x = _model_item(files, name, image(name), items.scales[index])
                yield (x,) if items.labels is None else (x, torch.tensor(items.labels[index]))


def _image_reader(files: ShardFiles) -> Callable[[str], bytes]:
    """How to read an image's bytes: a loose shard's file by its joined path string (pathlib's join cost 10 us an
    image, a tenth of the item); the names were checked to stay inside the shard when its table was parsed."""
    if not isinstance(files, LooseShard):
        return files.image
    folder = str(files.shard)

    def read(name: str) -> bytes:
        with open(os.path.join(folder, name), "rb") as handle:
            return handle.read()

    return read


def _model_item(files: ShardFiles, name: str, encoded: bytes, scale: np.float32) -> torch.Tensor:
    """The (2, S, S) model input of one image, as `model_input` computes it (see the module's docstring)."""
    try:
        with Image.open(io.BytesIO(encoded), formats=("PNG",)) as image:  # curated canvases are 16-bit PNGs
            grey = np.asarray(image, dtype=np.float32) / 65535.0
    except (OSError, ValueError) as error:  # PIL's UnidentifiedImageError is an OSError
        raise HFMError(f"{files.source}: cannot decode image {name!r} ({error!r})") from error
    if grey.ndim != 2:
        raise HFMError(f"{files.source}: image {name!r} is not a grey canvas (shape {grey.shape})")
    item = np.empty((2, *grey.shape), dtype=np.float32)
    np.multiply(grey, 2.0, out=item[0])
    item[0] -= 1.0
    item[1] = scale
    return torch.from_numpy(item)


def plankton_stream(root: str | Path, classes: list[str] | None = None) -> ShardStream:
    return ShardStream(root, PlanktonShards(classes))
