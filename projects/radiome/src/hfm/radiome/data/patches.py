"""Training data from a curated nnU-Net dataset: random patches with MONAI augmentation, bounded in memory.

`VolumeCache` keeps decoded volumes in RAM up to a byte budget and evicts the least recently used one, so a dataset
larger than memory streams from disk while a small one is read once (MONAI's CacheDataset instead holds every cached
item for the whole run). `PatchDataset` draws, for index i, a patch of volume i mod n with a generator seeded by
(seed, i): the same index always gives the same patch, so the shared trainer's resume reproduces the data exactly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from monai import transforms as mt
from torch.utils.data import Dataset

from hfm.radiome.format import NnunetRawFormat, list_cases, load_case, read_dataset_json
from hfm.shared.errors import HFMError

DEFAULT_CACHE_BYTES = 512 * 2**20


class VolumeCache:
    """Least-recently-used cache of (image, label) arrays of a curated dataset, at most `max_bytes` in RAM."""

    def __init__(self, root: str | Path, max_bytes: int = DEFAULT_CACHE_BYTES, split: str | None = "train") -> None:
        self.root = Path(root)
        self.info = read_dataset_json(self.root)
        # split None: every case, as self-supervised pretraining uses unlabelled test images too.
        self.cases = [c for c in list_cases(self.root) if split is None or c.split == split]
        if not self.cases:
            raise HFMError(f"{self.root}: no {split or ''} cases in imagesTr/imagesTs")
        self.max_bytes = max_bytes
        self._items: OrderedDict[int, tuple[np.ndarray, np.ndarray | None]] = OrderedDict()
        self.bytes = 0
        self.reads = 0

    def __len__(self) -> int:
        return len(self.cases)

    def get(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        if index in self._items:
            self._items.move_to_end(index)
            return self._items[index]
        image, label, _, _ = load_case(self.cases[index], self.info)
        self.reads += 1
        item = (image.astype(np.float32), None if label is None else label.astype(np.int64))
        size = sum(a.nbytes for a in item if a is not None)
        while self._items and self.bytes + size > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self.bytes -= sum(a.nbytes for a in old if a is not None)
        if size <= self.max_bytes:
            self._items[index] = item
            self.bytes += size
        return item


def augmentations(patch_size: Sequence[int], with_label: bool, flip: bool = True) -> mt.Compose:
    """Pad to the patch, random crop, flip, intensity scale/shift and noise (MONAI dictionary transforms)."""
    keys = ["image", "label"] if with_label else ["image"]
    steps: list[mt.Transform] = [
        mt.SpatialPadd(keys, spatial_size=list(patch_size)),
        mt.RandSpatialCropd(keys, roi_size=list(patch_size), random_size=False),
    ]
    if flip:
        steps.append(mt.RandFlipd(keys, prob=0.5, spatial_axis=0))
    steps += [
        mt.RandScaleIntensityd("image", factors=0.1, prob=0.5),
        mt.RandShiftIntensityd("image", offsets=0.1, prob=0.5),
        mt.RandGaussianNoised("image", prob=0.3, std=0.05),
    ]
    return mt.Compose(steps)


class PatchDataset(Dataset):
    """`length` random patches ({"image": (C, *patch), "label": (*patch)}) from the volumes of a cache.

    `label_slabs`, when given, keeps only a fraction of each label volume (the first slabs along z; the rest is
    marked -1 and ignored by the loss): the label-efficiency experiments train on such partial annotations.
    """

    def __init__(
        self,
        cache: VolumeCache,
        patch_size: Sequence[int],
        length: int = 64,
        seed: int = 0,
        with_label: bool = True,
        label_fraction: float = 1.0,
    ) -> None:
        self.cache = cache
        self.patch_size = tuple(int(n) for n in patch_size)
        self.length = length
        self.seed = seed
        self.with_label = with_label
        self.label_fraction = label_fraction
        self.transform = augmentations(self.patch_size, with_label)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        image, label = self.cache.get(index % len(self.cache))
        key = self.cache.cases[index % len(self.cache)].key
        labels = self.label_fraction if self.with_label else None
        return random_patch(self.transform, image, label, labels, (self.seed * 1_000_003 + index) % 2**32, key)


def random_patch(
    transform: mt.Compose,
    image: np.ndarray,
    label: np.ndarray | None,
    label_fraction: float | None,
    seed: int,
    key: str,
) -> dict[str, torch.Tensor]:
    """One augmented patch of a volume, drawn with `seed`; with a `label_fraction` (None: image only) its labels,
    partial where the fraction is below 1."""
    item: dict[str, np.ndarray] = {"image": image}
    if label_fraction is not None:
        if label is None:
            raise HFMError(f"{key}: no label for a supervised patch")
        item["label"] = partial_labels(label, label_fraction)[None]
    transform.set_random_state(seed=seed)
    out = transform(item)
    result = {"image": torch.as_tensor(np.asarray(out["image"]), dtype=torch.float32)}
    if label_fraction is not None:
        result["label"] = torch.as_tensor(np.asarray(out["label"])[0], dtype=torch.long)
    return result


def partial_labels(label: np.ndarray, fraction: float) -> np.ndarray:
    """Keep the central `fraction` of axial slices labelled; others become -1 (unlabelled)."""
    if fraction >= 1.0:
        return label
    depth = label.shape[-1]
    keep = max(1, round(fraction * depth))
    start = (depth - keep) // 2
    out = np.full_like(label, -1)
    out[..., start : start + keep] = label[..., start : start + keep]
    return out


def curated_volumes(root: str | Path, split: str = "train") -> list[tuple[str, np.ndarray, np.ndarray | None]]:
    """(key, image, label) of every case of a curated dataset: for evaluation, not cached."""
    return [
        (key, s.arrays["image"], s.arrays.get("label"))
        for key, s in NnunetRawFormat().iter_samples(Path(root))
        if s.attrs["split"] == split
    ]
