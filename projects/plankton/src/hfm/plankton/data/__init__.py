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
from hfm.plankton.tokenizer import model_input
from hfm.shared.errors import HFMError
from hfm.shared.shard_view import readable_format


class CuratedPlanktonDataset(Dataset):
    """Item i: ((2, S, S) float32 input, taxon or ""); images are read lazily, one 16-bit PNG each."""

    def __init__(self, root: str | Path) -> None:
        self.objects = read_ecotaxa(root)
        self.pixel_size = self.objects.table["pixel_size_um"].to_numpy(np.float64)
        self.taxa = self.objects.table["taxon"].fillna("").astype(str).tolist()

    def __len__(self) -> int:
        return len(self.objects)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        with Image.open(io.BytesIO(self.objects.read_image(index))) as image:
            grey = np.asarray(image, dtype=np.float32) / 65535.0
        return model_input(grey[None], self.pixel_size[index : index + 1])[0], self.taxa[index]


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
