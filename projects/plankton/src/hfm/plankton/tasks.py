"""Self-supervised pretraining on unlabelled plankton canvases with the core trainer.

`PlanktonMAETask` is a `hfm.shared.train.task.TrainTask`, declared in the plugin as `plankton-mae`, so `hfm train`
runs it from a YAML config (`task: {name: plankton-mae, dataset: DATASET/}`), and `hfm.plankton.training.pretrain`
runs it in-process for the benchmark and the quickstart.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from hfm.plankton.data import load_curated
from hfm.plankton.models import PlanktonModelConfig, build_mae
from hfm.plankton.tokenizer import model_input
from hfm.shared.errors import HFMError


class PlanktonMAETask:
    def __init__(self, inputs: torch.Tensor, model: PlanktonModelConfig) -> None:
        self.inputs = inputs
        self.model_config = model

    def build_model(self) -> nn.Module:
        return build_mae(self.model_config)

    def train_dataset(self) -> Dataset:
        return TensorDataset(self.inputs)

    def collate(self, items: list[tuple[torch.Tensor]]) -> torch.Tensor:
        return torch.stack([item[0] for item in items])

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        output = model(batch)
        return output.loss, {"mae_loss": float(output.loss.detach())}


def build_plankton_mae_task(options: dict[str, Any]) -> PlanktonMAETask:
    """Factory for the `hfm.tasks` entry point: options `dataset` (curated folder) and model sizes."""
    options = dict(options)
    if "dataset" not in options:
        raise HFMError("task plankton-mae: option `dataset` (a curated plankton dataset folder) is required")
    images, pixels, _ = load_curated(options.pop("dataset"))
    known = {f.name for f in fields(PlanktonModelConfig)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise HFMError(f"task plankton-mae: unknown option(s) {', '.join(unknown)}; known: dataset, {', '.join(known)}")
    config = PlanktonModelConfig(canvas=images.shape[-1], **{k: v for k, v in options.items() if k != "canvas"})
    return PlanktonMAETask(model_input(images, pixels), config)
