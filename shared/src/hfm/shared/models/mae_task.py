"""The "mae" train task: masked-autoencoder pretraining on one array of an `hfm-arrays` dataset.

    task:
      name: mae
      dataset: data/ipoc            # an hfm-arrays folder written by `hfm curate arrays`
      array: waveform               # the array of each sample to model
      tokenizer: {kind: series, patch_len: 40}    # or {kind: image, patch: 8}; channels default to the array's
      trunk: trunk-tiny             # a named trunk; `trunk_overrides: {depth: 2}` changes fields
      mae: {mask_ratio: 0.75, block_size: 1, norm_targets: true}
      normalize: sample             # sample | dataset | none (see `normalize_input`)
      split: train                  # optional: only rows of metadata.csv whose `split_column` has this value
      split_column: split

The model is built through the registry (`series-mae-*` / `image-mae-*`), so an exported run rebuilds from JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.numpy import load_file
from torch import nn
from torch.utils.data import Dataset

from hfm.shared.arraystore import ArrayStoreFormat
from hfm.shared.errors import HFMError
from hfm.shared.models.mae import MAEConfig, MAEOutput
from hfm.shared.models.registry import create_model, trunk_config

NORMALIZATIONS = ("sample", "dataset", "none")


def normalize_input(x: np.ndarray, mode: str, stats: tuple[float, float] | None = None) -> np.ndarray:
    """`sample`: each channel of each sample to zero mean, unit variance (amplitudes span decades in raw counts);
    `dataset`: the dataset card's mean and std for the array (keeps relative amplitude); `none`: as stored."""
    x = x.astype(np.float32, copy=False)
    if mode == "sample":
        axes = tuple(range(1, x.ndim))
        mean = x.mean(axis=axes, keepdims=True)
        std = x.std(axis=axes, keepdims=True)
        return (x - mean) / (std + 1e-8)
    if mode == "dataset":
        if stats is None:
            raise HFMError("normalize: dataset needs the array's statistics in the dataset card")
        return (x - stats[0]) / (stats[1] + 1e-8)
    if mode == "none":
        return x
    raise HFMError(f"task.normalize: must be one of {', '.join(NORMALIZATIONS)}, got {mode!r}")


class ArrayDataset(Dataset):
    """One named array of each sample of an `hfm-arrays` dataset as float32 tensors, optionally one split only."""

    def __init__(
        self,
        root: str | Path,
        array: str,
        normalize: str = "sample",
        split: str | None = None,
        split_column: str = "split",
    ) -> None:
        self.root = Path(root)
        self.array = array
        self.normalize = normalize
        table = ArrayStoreFormat().metadata(self.root)
        if split is not None:
            if split_column not in table.columns:
                raise HFMError(f"{self.root / 'metadata.csv'}: no column {split_column!r} to select split {split!r}")
            table = table[table[split_column].astype(str) == split]
        self.table = table.reset_index(drop=True)
        self.keys = [str(k) for k in self.table["key"]]
        if not self.keys:
            raise HFMError(f"{self.root}: no samples" + (f" with {split_column} == {split!r}" if split else ""))
        self.stats = _card_stats(self.root, array) if normalize == "dataset" else None
        first = self._raw(0)
        self.data_shape = tuple(first.shape)

    def _raw(self, index: int) -> np.ndarray:
        path = self.root / "samples" / f"{self.keys[index]}.safetensors"
        try:
            arrays = load_file(str(path))
        except Exception as error:  # safetensors raises several types for damaged or missing files
            raise HFMError(f"{path}: cannot be read as safetensors ({error})") from error
        if self.array not in arrays:
            raise HFMError(f"{path}: no array {self.array!r} (has {', '.join(sorted(arrays))})")
        return arrays[self.array]

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> torch.Tensor:
        raw = self._raw(index)
        if tuple(raw.shape) != self.data_shape:
            raise HFMError(
                f"{self.keys[index]}: array {self.array!r} has shape {raw.shape}, expected {self.data_shape}"
            )
        return torch.from_numpy(normalize_input(raw, self.normalize, self.stats))

    def stack(self) -> torch.Tensor:
        """All samples as one (N, *data_shape) tensor (small datasets: probes, tests)."""
        return torch.stack([self[i] for i in range(len(self))])


def _card_stats(root: Path, array: str) -> tuple[float, float]:
    import json

    card = root / "card.json"
    if not card.exists():
        raise HFMError(f"{card}: missing; normalize: dataset reads the array statistics from it")
    for entry in json.loads(card.read_text()).get("statistics", []):
        if entry.get("name") == array and entry.get("std"):
            return float(entry["mean"]), float(entry["std"])
    raise HFMError(f"{card}: statistics has no mean/std for array {array!r}")


@dataclass
class MAETaskConfig:
    dataset: str
    array: str
    tokenizer: dict[str, Any] = field(default_factory=lambda: {"kind": "series", "patch_len": 16})
    trunk: str = "trunk-tiny"
    trunk_overrides: dict[str, Any] = field(default_factory=dict)
    mae: dict[str, Any] = field(default_factory=dict)
    normalize: str = "sample"
    split: str | None = None
    split_column: str = "split"

    @classmethod
    def from_dict(cls, options: dict[str, Any]) -> MAETaskConfig:
        options = {k: v for k, v in options.items() if k != "name"}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise HFMError(f"task.{unknown[0]}: unknown option of task mae; known: {', '.join(sorted(known))}")
        for required in ("dataset", "array"):
            if required not in options:
                raise HFMError(f"task.{required}: required by task mae")
        return cls(**options)


class MAETask:
    """Implements `hfm.shared.train.task.TrainTask` for masked-autoencoder pretraining."""

    def __init__(self, config: MAETaskConfig) -> None:
        self.config = config
        if config.normalize not in NORMALIZATIONS:
            raise HFMError(f"task.normalize: must be one of {', '.join(NORMALIZATIONS)}, got {config.normalize!r}")
        trunk_config(config.trunk, **config.trunk_overrides)  # fail early on a bad trunk name or field
        MAEConfig(**config.mae)
        self._dataset: ArrayDataset | None = None

    def train_dataset(self) -> ArrayDataset:
        if self._dataset is None:
            c = self.config
            self._dataset = ArrayDataset(c.dataset, c.array, c.normalize, c.split, c.split_column)
        return self._dataset

    def model_name_and_args(self) -> tuple[str, dict[str, Any]]:
        data_shape = self.train_dataset().data_shape
        tok = dict(self.config.tokenizer)
        kind = tok.pop("kind", "series")
        if kind not in ("series", "image"):
            raise HFMError(f"task.tokenizer.kind: must be series or image, got {kind!r}")
        expected_dims = 2 if kind == "series" else 3
        if len(data_shape) != expected_dims:
            raise HFMError(f"task.tokenizer.kind: {kind} needs {expected_dims}-d samples, array has shape {data_shape}")
        tok.setdefault("channels", data_shape[0])
        size = self.config.trunk.removeprefix("trunk-")
        return f"{kind}-mae-{size}", {**tok, **self.config.trunk_overrides, **self.config.mae}

    def build_model(self) -> nn.Module:
        name, args = self.model_name_and_args()
        return create_model(name, **args)

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        output: MAEOutput = model(batch)
        return output.loss, {"mae_loss": float(output.loss.detach())}

    def metadata(self) -> pd.DataFrame:
        return self.train_dataset().table


def build_mae_task(options: dict[str, Any]) -> MAETask:
    """Factory named in BUILTIN_TASKS: the task section of the run config -> task."""
    return MAETask(MAETaskConfig.from_dict(options))
