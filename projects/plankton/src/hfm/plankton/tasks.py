"""Trainer tasks with typed options (`hfm train` and the CLI shortcuts build them by name; declared in the plugin).

plankton-mae:       dataset: PATH  patch, width, depth, heads, mask_ratio, decoder_width, decoder_depth, decoder_heads
plankton-classify:  dataset: PATH  init: PATH|null  patch, width, depth, heads, balanced: true

Both read a curated plankton dataset (`hfm plankton curate`); the classifier trains on its validated objects that
carry a taxon, with classes weighted by inverse frequency (`balanced`) as plankton classes are heavily imbalanced.
`PlanktonMAETask` also takes canvases held in memory (`from_canvases`: the benchmark's folds, the quickstart).
A sharded dataset (`--shard-size`) is streamed shard by shard (`hfm.plankton.data.stream`) instead of loaded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from hfm.plankton.data import load_curated
from hfm.plankton.data.stream import canvas_size, labelled, plankton_stream, taxon_counts
from hfm.plankton.models import MAESizes, PlanktonModelConfig, build_mae
from hfm.plankton.tokenizer import PATCH, model_input
from hfm.shared.errors import HFMError
from hfm.shared.models.loading import load_encoder
from hfm.shared.models.registry import create_model
from hfm.shared.options import parse_options
from hfm.shared.shard_layout import is_sharded
from hfm.shared.shard_loader import ShardStream


@dataclass(frozen=True, kw_only=True)
class MAEOptions(MAESizes):
    dataset: Path


@dataclass(frozen=True)
class ClassifyOptions:
    dataset: Path
    init: Path | None = None  # a plankton MAE artifact whose encoder starts the classifier
    patch: int = PATCH
    width: int = 96
    depth: int = 4
    heads: int = 4
    balanced: bool = True


class PlanktonMAETask:
    def __init__(self, inputs: torch.Tensor | ShardStream, model: PlanktonModelConfig) -> None:
        self.inputs = inputs  # in memory, or streamed from a sharded dataset
        self.model_config = model

    @classmethod
    def from_canvases(
        cls, canvases: np.ndarray, pixel_size_um: np.ndarray, model: PlanktonModelConfig
    ) -> PlanktonMAETask:
        return cls(model_input(canvases, pixel_size_um), model)

    def build_model(self) -> nn.Module:
        return build_mae(self.model_config)

    def train_dataset(self) -> Dataset:
        return self.inputs if isinstance(self.inputs, ShardStream) else TensorDataset(self.inputs)

    def collate(self, items: list[tuple[torch.Tensor]]) -> torch.Tensor:
        return torch.stack([item[0] for item in items])

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        output = model(batch)
        return output.loss, {"mae_loss": float(output.loss.detach())}


class PlanktonClassifyTask:
    def __init__(self, options: ClassifyOptions) -> None:
        self.options = options
        if is_sharded(options.dataset):  # streamed: only the count of each taxon is held
            taxa_counts = taxon_counts(options.dataset)
            self.classes = sorted(taxa_counts)
            self._check_classes()
            self.data: Dataset = plankton_stream(options.dataset, self.classes)
            counts = torch.tensor([float(taxa_counts[taxon]) for taxon in self.classes])
        else:
            images, pixels, table = load_curated(options.dataset)
            known = labelled(table)
            taxa = table["taxon"][known].astype(str).to_numpy()
            self.classes = sorted(set(taxa))
            self._check_classes()
            targets = torch.as_tensor(np.searchsorted(self.classes, taxa))
            self.data = TensorDataset(model_input(images[known], pixels[known]), targets)
            counts = torch.bincount(targets, minlength=len(self.classes)).float()
        self.weights = counts.sum() / (len(self.classes) * counts) if options.balanced else None

    def _check_classes(self) -> None:
        if len(self.classes) < 2:
            raise HFMError(
                f"{self.options.dataset}: validated objects of at least two taxa are needed to fine-tune, found "
                f"{self.classes or 'none'}"
            )

    def build_model(self) -> nn.Module:
        o = self.options
        sizes = {"patch": o.patch, "width": o.width, "depth": o.depth, "heads": o.heads}
        model = create_model("plankton-classifier-tiny", taxa=self.classes, **sizes)
        if o.init is not None:
            load_encoder(model, o.init, expected="image-mae-tiny")
        return model

    def train_dataset(self) -> Dataset:
        return self.data

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        logits = model(x)
        accuracy = float((logits.argmax(1) == y).float().mean())
        return F.cross_entropy(logits, y, weight=self.weights), {"accuracy": accuracy}


def build_plankton_mae_task(options: dict[str, Any]) -> PlanktonMAETask:
    typed = parse_options(MAEOptions, options, "task plankton-mae")
    sizes = {k: v for k, v in asdict(typed).items() if k != "dataset"}
    if is_sharded(typed.dataset):  # streamed shard by shard, never all in memory
        stream = plankton_stream(typed.dataset)
        return PlanktonMAETask(stream, PlanktonModelConfig(canvas=canvas_size(typed.dataset), **sizes))
    images, pixels, _ = load_curated(typed.dataset)
    return PlanktonMAETask(model_input(images, pixels), PlanktonModelConfig(canvas=images.shape[-1], **sizes))


def build_plankton_classify_task(options: dict[str, Any]) -> PlanktonClassifyTask:
    return PlanktonClassifyTask(parse_options(ClassifyOptions, options, "task plankton-classify"))
