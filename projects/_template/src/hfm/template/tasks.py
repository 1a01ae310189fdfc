"""Trainer tasks with typed options (`hfm train` and the CLI shortcuts build them by name).

template-mae:       dataset: PATH  split: train  mask_ratio: 0.75
template-classify:  dataset: PATH  split: train  init: PATH|null   (validation on the dev split)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from hfm.shared.models.loading import load_encoder
from hfm.shared.models.registry import create_model
from hfm.shared.options import parse_options
from hfm.template import models as _models  # noqa: F401  (registers the template's models)
from hfm.template.data import classes_of, labelled, load_split


@dataclass(frozen=True)
class MAEOptions:
    dataset: Path
    split: str = "train"
    mask_ratio: float = 0.75


@dataclass(frozen=True)
class ClassifyOptions:
    dataset: Path
    split: str = "train"
    validation_split: str = "dev"
    init: Path | None = None


class MAETask:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = parse_options(MAEOptions, options, "task template-mae")

    def build_model(self) -> nn.Module:
        return create_model("template-mae-tiny", mask_ratio=self.options.mask_ratio)

    def train_dataset(self) -> Dataset:
        return TensorDataset(load_split(self.options.dataset, self.options.split)[0])

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        return model(batch[0]).loss, {}


class ClassifyTask:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = parse_options(ClassifyOptions, options, "task template-classify")
        self.classes = classes_of(self.options.dataset)

    def build_model(self) -> nn.Module:
        model = create_model("template-classifier-tiny", classes=len(self.classes))
        if self.options.init is not None:
            load_encoder(model, self.options.init, expected="template-mae-tiny")
        return model

    def train_dataset(self) -> Dataset:
        return labelled(self.options.dataset, self.options.split)

    def validation_dataset(self) -> Dataset:
        return labelled(self.options.dataset, self.options.validation_split)

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        logits = model(x)
        return F.cross_entropy(logits, y), {"accuracy": float((logits.argmax(1) == y).float().mean())}
