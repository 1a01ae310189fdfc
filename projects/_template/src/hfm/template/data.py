"""PyTorch datasets over a curated dataset: signals of one split, with class indices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import TensorDataset

from hfm.shared.arraystore import ArrayStoreFormat
from hfm.shared.errors import HFMError
from hfm.shared.shard_view import readable_format


def load_split(dataset: Path, split: str | None) -> tuple[torch.Tensor, list[str]]:
    """(N, 1, T) signals normalised per sample, and their labels, of one split (all with None)."""
    store = readable_format(dataset, ArrayStoreFormat())  # one dataset or its shards, never an unfinished one
    table = store.metadata(dataset).set_index("key")
    keys = [k for k in table.index if split is None or table.loc[k, "split"] == split]
    if not keys:
        raise HFMError(f"{dataset}: no samples in split {split!r}")
    arrays = {key: sample.arrays["signal"] for key, sample in store.iter_samples(dataset)}
    x = np.stack([arrays[k] for k in keys]).astype(np.float32)
    x = (x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, keepdims=True) + 1e-6)
    return torch.from_numpy(x), [str(table.loc[k, "label"]) for k in keys]


def classes_of(dataset: Path) -> list[str]:
    return sorted(readable_format(dataset, ArrayStoreFormat()).metadata(dataset)["label"].astype(str).unique())


def labelled(dataset: Path, split: str) -> TensorDataset:
    x, labels = load_split(dataset, split)
    index = {c: i for i, c in enumerate(classes_of(dataset))}
    return TensorDataset(x, torch.tensor([index[label] for label in labels]))
