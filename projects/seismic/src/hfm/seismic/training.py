"""Pretraining and fine-tuning through the shared trainer, as plain function calls (the CLI and quickstart use them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from hfm.seismic.tasks import SeismicMAETask, SeismicPickTask
from hfm.shared.train.config import Config
from hfm.shared.train.trainer import Trainer, TrainResult


def _config(
    task: str, options: dict[str, Any], out_dir: Path, steps: int, batch_size: int, lr: float, seed: int, progress: bool
) -> Config:
    plain = {k: v for k, v in options.items() if isinstance(v, str | int | float | dict)}  # arrays stay out of YAML
    return Config.short_run(
        out_dir, task, plain, steps=steps, batch_size=batch_size, lr=lr, seed=seed, progress=progress, min_lr=lr / 20
    )


def pretrain(
    options: dict[str, Any],
    out_dir: str | Path,
    steps: int = 200,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> tuple[nn.Module, TrainResult]:
    """Masked autoencoding on unlabelled windows; the weights land in `out_dir/final/model.safetensors`."""
    task = SeismicMAETask({"seed": seed, **options})
    batch_size = min(batch_size, len(task.train_dataset()))
    trainer = Trainer(_config("seismic-mae", options, Path(out_dir), steps, batch_size, lr, seed, progress), task)
    result = trainer.fit()
    return trainer.raw_model, result


def finetune(
    options: dict[str, Any],
    out_dir: str | Path,
    steps: int = 300,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> tuple[nn.Module, TrainResult]:
    """Phase picker + detector on labelled windows, from a pretrained encoder when `options["init"]` is given."""
    task = SeismicPickTask({"seed": seed, **options})
    batch_size = min(batch_size, len(task.train_dataset()))  # a 1% label subset may hold fewer windows than a batch
    trainer = Trainer(_config("seismic-pick", options, Path(out_dir), steps, batch_size, lr, seed, progress), task)
    result = trainer.fit()
    return trainer.raw_model, result
