"""Self-supervised pretraining on unlabelled plankton canvases with the core trainer.

`PlanktonMAETask` is a `hfm.shared.train.task.TrainTask`, declared in the `hfm.tasks` entry-point group as
`plankton-mae`, so `hfm train` runs it from a YAML config (`task: {name: plankton-mae, dataset: DATASET/}`), and
`pretrain` runs it in-process for the CLI, the benchmark and the quickstart.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from hfm.plankton.dataset import EcoTaxaFormat
from hfm.plankton.model import PlanktonModelConfig, build_mae, model_input
from hfm.shared.errors import HFMError
from hfm.shared.train.config import Config
from hfm.shared.train.trainer import Trainer


def load_curated(root: str | Path) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """A curated plankton dataset -> (N, S, S) canvases, (N,) canvas pixel sizes, the metadata table."""
    root = Path(root)
    if not (root / "card.json").exists():
        raise HFMError(f"{root}: not a curated plankton dataset (no card.json); run `hfm plankton curate` first")
    fmt = EcoTaxaFormat()
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


def pretrain(
    canvases: np.ndarray,
    pixel_size_um: np.ndarray,
    out_dir: str | Path,
    model: PlanktonModelConfig | None = None,
    steps: int = 200,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """Masked-autoencoder pretraining with the core trainer; returns the trained MAE and the run summary."""
    model = model or PlanktonModelConfig(canvas=canvases.shape[-1])
    task = PlanktonMAETask(model_input(canvases, pixel_size_um), model)
    config = Config.short_run(
        out_dir,
        "plankton-mae",
        {},
        steps=steps,
        batch_size=min(batch_size, len(canvases)),
        lr=lr,
        seed=seed,
        progress=progress,
    )
    trainer = Trainer(config, task)
    result = trainer.fit()
    trained = trainer.raw_model.eval()
    first, last = _first_last_loss(Path(out_dir))
    return trained, {
        "steps": result.step,
        "wall_s": result.wall_s,
        "samples_per_s": result.samples_per_s,
        "loss_first": first,
        "loss_last": last,
    }


def _first_last_loss(run_dir: Path) -> tuple[float | None, float | None]:
    import json

    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return None, None
    losses = [json.loads(line).get("loss") for line in path.read_text().splitlines() if line.strip()]
    losses = [x for x in losses if x is not None]
    return (losses[0], losses[-1]) if losses else (None, None)
