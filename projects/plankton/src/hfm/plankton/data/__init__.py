"""Reading a curated plankton dataset for training: all canvases at once (`load_curated`), or a PyTorch dataset of
model inputs (pixels + scale channel) and labels read lazily (`CuratedPlanktonDataset`)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch.utils.data import Dataset

from hfm.plankton.format import EcoTaxaFormat
from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.plankton.readers.stores import FolderStore
from hfm.plankton.tokenizer import scale_channel
from hfm.shared.errors import HFMError
from hfm.shared.shard_view import readable_format


class CuratedPlanktonDataset(Dataset):
    """Item i: ((2, S, S) float32 input, taxon or ""); images are read lazily, one 16-bit PNG each.

    Every image path of a folder dataset is checked once when the dataset opens (inside the folder, present, within
    the size budget), so an item is one file read and one PNG decode; the input is written into one preallocated
    array with the same float32 operations as `model_input`, so items are bit-identical to it.
    """

    def __init__(self, root: str | Path) -> None:
        self.objects = read_ecotaxa(root)
        self.scale = scale_channel(self.objects.table["pixel_size_um"].to_numpy(np.float64))
        self.taxa = self.objects.table["taxon"].fillna("").astype(str).tolist()
        store = self.objects.store
        paths = self.objects.table["image_path"].tolist()
        self._files = [store.checked_file(p) for p in paths] if isinstance(store, FolderStore) else None

    def __len__(self) -> int:
        return len(self.objects)

    def _image_bytes(self, index: int) -> bytes:
        return self._files[index].read_bytes() if self._files is not None else self.objects.read_image(index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        with Image.open(io.BytesIO(self._image_bytes(index)), formats=("PNG",)) as image:  # curated: PNG only
            grey = np.asarray(image, dtype=np.float32) / 65535.0
        item = np.empty((2, *grey.shape), dtype=np.float32)
        np.multiply(grey, 2.0, out=item[0])
        item[0] -= 1.0
        item[1] = self.scale[index]
        return torch.from_numpy(item), self.taxa[index]


def load_curated(root: str | Path) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """A curated plankton dataset -> (N, S, S) canvases, (N,) canvas pixel sizes, the metadata table."""
    root = Path(root)
    if not (root / "card.json").exists():
        raise HFMError(f"{root}: not a curated plankton dataset (no card.json); run `hfm plankton curate` first")
    fmt = readable_format(root, EcoTaxaFormat())  # a sharded dataset reads shard after shard
    table = fmt.metadata(root)
    images, pixels = [], []
    for _, sample in fmt.iter_samples(root):
        images.append(sample.arrays["image"][0])
        pixels.append(float(sample.arrays["pixel_size_um"][0]))
    if not images:
        raise HFMError(f"{root}: the dataset holds no images")
    shapes = {i.shape for i in images}
    if len(shapes) > 1:
        raise HFMError(f"{root}: images of several sizes {sorted(shapes)}; curate with one canvas size")
    return np.stack(images), np.asarray(pixels), table.reset_index(drop=True)
