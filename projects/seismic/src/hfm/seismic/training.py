"""Pretraining and fine-tuning through the shared trainer, as plain function calls (the CLI and quickstart use them)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from hfm.seismic.tasks import SeismicMAETask, SeismicPickTask
from hfm.shared.train.config import Config, OptimConfig, RunConfig, TaskConfig, TrainConfig
from hfm.shared.train.trainer import Trainer, TrainResult


def _config(
    task: str, options: dict[str, Any], out_dir: Path, steps: int, batch_size: int, lr: float, seed: int, progress: bool
) -> Config:
    return Config(
        run=RunConfig(out_dir=str(out_dir), seed=seed),
        task=TaskConfig(
            name=task, options={k: v for k, v in options.items() if isinstance(v, str | int | float | dict)}
        ),
        train=TrainConfig(
            steps=steps,
            batch_size=batch_size,
            log_every=max(1, steps // 10),
            ckpt_every=steps,
            keep_last=1,
            progress=progress,
        ),
        optim=OptimConfig(lr=lr, weight_decay=0.05, warmup_steps=max(1, steps // 10), min_lr=lr / 20),
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
