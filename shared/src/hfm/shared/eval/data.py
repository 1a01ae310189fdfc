"""Labelled splits of an `hfm-arrays` dataset for the probes: inputs, labels from a metadata column, train/test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hfm.shared.errors import HFMError
from hfm.shared.models.mae_task import ArrayDataset


@dataclass
class LabelledSplits:
    train_x: torch.Tensor
    train_y: np.ndarray
    test_x: torch.Tensor
    test_y: np.ndarray
    task: str  # classification | regression
    label: str
    classes: list[str]  # class names (bin edges for binned numbers); empty for regression


def quantile_bins(train_values: np.ndarray, bins: int) -> np.ndarray:
    """Inner edges of `bins` classes holding equal shares of the *training* values (test values never set edges)."""
    return np.quantile(train_values, np.linspace(0, 1, bins + 1)[1:-1])


def load_labelled(
    dataset: str | Path,
    array: str,
    label: str,
    split_column: str = "split",
    train: str = "train",
    test: str = "test",
    normalize: str = "sample",
    bins: int = 0,
    task: str | None = None,
) -> LabelledSplits:
    """Reads both splits. A numeric label with `bins` > 1 becomes that many quantile classes; a float label without
    bins is a regression target; anything else is a class name."""
    root = Path(dataset)
    parts = {
        name: ArrayDataset(root, array, normalize, value, split_column)
        for name, value in (("train", train), ("test", test))
    }
    tables = {name: part.table for name, part in parts.items()}
    for name, table in tables.items():
        if label not in table.columns:
            raise HFMError(f"{root / 'metadata.csv'}: no column {label!r} to use as label")
        if table[label].isna().any():
            raise HFMError(f"{root / 'metadata.csv'}: column {label!r} has empty values in split {name}")
    train_raw, test_raw = tables["train"][label].to_numpy(), tables["test"][label].to_numpy()
    numeric = pd.api.types.is_numeric_dtype(tables["train"][label])
    classes: list[str] = []
    if bins > 1:
        if not numeric:
            raise HFMError(f"--bins needs a numeric label; column {label!r} is not")
        edges = quantile_bins(train_raw.astype(float), bins)
        train_y, test_y = np.digitize(train_raw, edges), np.digitize(test_raw, edges)
        bounds = [-np.inf, *edges, np.inf]
        classes = [f"[{lo:.3g}, {hi:.3g})" for lo, hi in itertools.pairwise(bounds)]
        task = "classification"
    elif task == "regression" or (task is None and pd.api.types.is_float_dtype(tables["train"][label])):
        train_y, test_y, task = train_raw.astype(float), test_raw.astype(float), "regression"
    else:
        train_y, test_y, task = train_raw.astype(str), test_raw.astype(str), "classification"
        classes = sorted(set(train_y))
    return LabelledSplits(parts["train"].stack(), train_y, parts["test"].stack(), test_y, task, label, classes)
