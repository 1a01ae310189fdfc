"""A PyTorch dataset over a curated plankton dataset: model inputs (pixels + scale channel) and labels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from hfm.plankton.ecotaxa import read_ecotaxa
from hfm.plankton.model import model_input


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
