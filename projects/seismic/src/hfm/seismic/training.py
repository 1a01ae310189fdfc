"""Pretraining and fine-tuning through the shared trainer.

- `pretrain` / `finetune`: the CLI shortcuts. Typed options -> OUT/run.yaml -> the shared train-and-export path, so
  `hfm train OUT/run.yaml` replays the run byte for byte; the model with its card lands in OUT/model.
- `pretrain_windows` / `finetune_windows`: the same tasks on windows held in memory (the benchmark's crops, the
  quickstart's corpus), which no YAML can name; they return the model and write only the run folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from hfm.seismic.data.windows import LabelledWindows
from hfm.seismic.tasks import MAEOptions, PickOptions, SeismicMAETask, SeismicPickTask
from hfm.shared.artifacts import DataCardReference, ModelCard, export_model
from hfm.shared.options import options_dict, parse_options
from hfm.shared.shortcuts import ShortcutResult, shortcut_config, train_and_export
from hfm.shared.train.config import Config
from hfm.shared.train.trainer import Trainer, TrainResult

INTENDED_USE = "Phase picking (P, S) and event detection on 3-component (or vertical-only) seismograms at 100 Hz."
LIMITS = (
    "Pretrained on a few thousand real unlabelled windows and fine-tuned on about a hundred NCEDC windows with analyst "
    "picks (see docs/seismic.md for its scores against PhaseNetLight); check picks against an analyst on new "
    "networks. Teleseismic and ocean-bottom data are outside the training distribution."
)


def _min_lr(lr: float) -> float:
    return lr / 20  # seismic's schedule ends lower than the core's lr/10 default


def pretrain(
    dataset: str | Path,
    out: str | Path,
    *,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    overrides: list[str] | None = None,
    progress: bool = True,
    **options: Any,
) -> ShortcutResult:
    """Masked autoencoding on a SeisBench-format folder (or `dataset="synthetic"`); `options` are MAEOptions."""
    typed = parse_options(MAEOptions, {"dataset": str(dataset), "seed": seed, **options}, "pretrain")
    batch_size = min(batch_size, len(SeismicMAETask(typed).train_dataset()))
    return _shortcut("seismic-mae", options_dict(typed), out, steps, batch_size, lr, seed, overrides, progress)


def finetune(
    dataset: str | Path,
    out: str | Path,
    *,
    init: str | Path | None = None,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    overrides: list[str] | None = None,
    progress: bool = True,
    **options: Any,
) -> ShortcutResult:
    """The picker and detector on labelled windows, from the encoder of `init` when given; `options` are PickOptions."""
    raw = {"dataset": str(dataset), "seed": seed, "init": init, **options}
    typed = parse_options(PickOptions, raw, "finetune")
    batch_size = min(batch_size, len(SeismicPickTask(typed).train_dataset()))  # a 1% subset may be under a batch
    return _shortcut("seismic-pick", options_dict(typed), out, steps, batch_size, lr, seed, overrides, progress)


def _shortcut(
    task: str,
    options: dict[str, Any],
    out: str | Path,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    overrides: list[str] | None,
    progress: bool,
) -> ShortcutResult:
    config = shortcut_config(
        task,
        options,
        out,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        overrides=overrides or [],
        progress=progress,
        min_lr=_min_lr(lr),
    )
    what = "seismic waveform encoder (masked autoencoder)" if task == "seismic-mae" else "seismic phase picker"
    return train_and_export(config, out, description=what, intended_use=INTENDED_USE, limitations=LIMITS)


def _in_memory_config(task: str, options: dict[str, Any], out_dir: Path, **run: Any) -> Config:
    plain = {k: v for k, v in options.items() if isinstance(v, str | int | float | dict)}  # the windows stay out
    return Config.short_run(out_dir, task, plain, min_lr=_min_lr(run["lr"]), **run)


def pretrain_windows(
    windows: LabelledWindows,
    out_dir: str | Path,
    steps: int = 200,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> tuple[nn.Module, TrainResult]:
    """Masked autoencoding on in-memory windows; the weights land in `out_dir/final/model.safetensors`."""
    typed = parse_options(MAEOptions, {"dataset": windows.name or "in memory", "seed": seed, **options}, "pretrain")
    task = SeismicMAETask(typed, windows)
    batch_size = min(batch_size, len(task.train_dataset()))
    run = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "progress": progress}
    trainer = Trainer(_in_memory_config("seismic-mae", options, Path(out_dir), **run), task)
    result = trainer.fit()
    return trainer.raw_model, result


def finetune_windows(
    windows: LabelledWindows,
    out_dir: str | Path,
    steps: int = 300,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    **options: Any,
) -> tuple[nn.Module, TrainResult]:
    """Phase picker + detector on in-memory windows, from a pretrained encoder when `init` is given."""
    typed = parse_options(PickOptions, {"dataset": windows.name or "in memory", "seed": seed, **options}, "finetune")
    task = SeismicPickTask(typed, windows)
    batch_size = min(batch_size, len(task.train_dataset()))
    run = {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "progress": progress}
    trainer = Trainer(_in_memory_config("seismic-pick", options, Path(out_dir), **run), task)
    result = trainer.fit()
    return trainer.raw_model, result


def export_picker(model: nn.Module, out: Path, name: str, metrics: dict[str, float], data: Path | None) -> Path:
    """An in-memory model as an artifact folder with its card (and its training data's card where there is one)."""
    refs = [DataCardReference.from_dataset(data)] if data and (data / "card.json").exists() else []
    card = ModelCard(name=name, intended_use=INTENDED_USE, limitations=LIMITS, data=refs, metrics=metrics)
    return export_model(model, out, {}, card)
