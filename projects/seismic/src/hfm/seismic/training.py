"""Pretraining and fine-tuning through the shared trainer.

- `pretrain` / `finetune`: the CLI shortcuts. Typed options -> OUT/run.yaml -> the shared train-and-export path, so
  `hfm train OUT/run.yaml` replays the run byte for byte; the model with its card lands in OUT/model.
- `pretrain_windows` / `finetune_windows`: the same tasks on windows held in memory (the benchmark's crops, the
  quickstart's corpus), which no YAML can name; they return the model and write only the run folder.
- `pretrain_onset_dataset` / `pretrain_onset`: the whole picker pretrained on onset-carrying targets (issue 14,
  `data.onset_targets`), on a dataset folder (the CLI shortcut) or on windows in memory (the benchmark).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from hfm.seismic.data.windows import LabelledWindows
from hfm.seismic.tasks import MAEOptions, OnsetOptions, OnsetPretrainTask, PickOptions, SeismicMAETask, SeismicPickTask
from hfm.shared.artifacts import DataCardReference, ModelCard, export_model
from hfm.shared.errors import HFMError
from hfm.shared.options import options_dict, parse_options
from hfm.shared.shortcuts import RunSettings, ShortcutResult, shortcut_config, train_and_export
from hfm.shared.train.checkpoint import checkpoint_dirs, read_checkpoint
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
    dataset: str | Path, out: str | Path, settings: RunSettings = RunSettings(), **options: Any
) -> ShortcutResult:
    """Masked autoencoding on a SeisBench-format folder (or `dataset="synthetic"`); `options`: MAEOptions."""
    return _shortcut("seismic-mae", dataset, out, settings, options)


def pretrain_onset_dataset(
    dataset: str | Path, out: str | Path, settings: RunSettings = RunSettings(steps=1600, batch_size=16), **options: Any
) -> ShortcutResult:
    """Onset pretraining of the whole picker on a SeisBench-format folder (or `dataset="synthetic"`); `options`:
    OnsetOptions. Fine-tune from OUT/model with `init_scope="picker"`."""
    return _shortcut("seismic-onset", dataset, out, settings, options)


def finetune(
    dataset: str | Path, out: str | Path, settings: RunSettings = RunSettings(), **options: Any
) -> ShortcutResult:
    """The picker and detector on labelled windows, from the encoder of `init` when given; `options`: PickOptions."""
    return _shortcut("seismic-pick", dataset, out, settings, options)


def _shortcut(
    task_name: str, dataset: str | Path, out: str | Path, settings: RunSettings, options: dict[str, Any]
) -> ShortcutResult:
    options_type, task_type = _TASKS[task_name]
    typed = parse_options(options_type, {"dataset": str(dataset), "seed": settings.seed, **options}, task_name)
    windows = len(task_type(typed).train_dataset())
    settings = replace(settings, batch_size=min(settings.batch_size, windows))  # a 1% subset may be under a batch
    config = shortcut_config(task_name, options_dict(typed), out, settings, min_lr=_min_lr(settings.lr))
    what = {
        "seismic-mae": "seismic waveform encoder (masked autoencoder)",
        "seismic-onset": "seismic phase picker, onset-pretrained (no labels; fine-tune it before picking)",
    }.get(task_name, "seismic phase picker")
    return train_and_export(config, out, description=what, intended_use=INTENDED_USE, limitations=LIMITS)


def pretrain_windows(
    windows: LabelledWindows, out_dir: str | Path, settings: RunSettings = RunSettings(steps=200), **options: Any
) -> tuple[nn.Module, TrainResult]:
    """Masked autoencoding on in-memory windows; the weights land in `out_dir/final/model.safetensors`.
    `settings`: how it runs, as `pretrain`'s; `options`: MAEOptions."""
    return _train_windows("seismic-mae", windows, Path(out_dir), settings, options)


def finetune_windows(
    windows: LabelledWindows, out_dir: str | Path, settings: RunSettings = RunSettings(batch_size=16), **options: Any
) -> tuple[nn.Module, TrainResult]:
    """Phase picker + detector on in-memory windows, from a pretrained encoder when `init` is given.
    `settings`: how it runs, as `finetune`'s; `options`: PickOptions."""
    return _train_windows("seismic-pick", windows, Path(out_dir), settings, options)


def finetune_states(
    windows: LabelledWindows,
    out_dir: str | Path,
    settings: RunSettings,
    every: int,
    **options: Any,
) -> dict[int, nn.Module]:
    """`finetune_windows`, keeping the run's state every `every` steps: {step: picker}, the last step included.
    One run (one learning-rate schedule to `settings.steps`), so each output can stop at its own step (issue 14)."""
    if every <= 0 or settings.steps % every:
        raise HFMError(f"finetune_states: every={every} must divide the run's {settings.steps} steps")
    model, _ = _train_windows("seismic-pick", windows, Path(out_dir), settings, options, every)
    states = {settings.steps: model}
    for step, path in checkpoint_dirs(Path(out_dir) / "checkpoints"):
        if step != settings.steps:
            earlier = copy.deepcopy(model)
            earlier.load_state_dict(read_checkpoint(path).tensors["model"])
            states[step] = earlier.eval()
    return dict(sorted(states.items()))


def pretrain_onset(
    windows: np.ndarray,
    out_dir: str | Path,
    settings: RunSettings = RunSettings(steps=1600, batch_size=16, lr=1e-3),
    options: OnsetOptions = OnsetOptions(),
) -> tuple[nn.Module, TrainResult]:
    """Onset pretraining of the whole picker on (N, 3, T) unlabelled windows; the weights land in
    `out_dir/final/model.safetensors` (fine-tune from that folder with `tasks.load_picker`, or the
    `seismic-pick` option `init_scope: picker`)."""
    if settings.overrides:
        raise HFMError("pretrain_onset: no run-config overrides; pass OnsetOptions instead")
    typed = replace(options, dataset="in memory", seed=settings.seed)
    # the run config records every option (refiner depth, augmentation), as the CLI route does
    return _fit(OnsetPretrainTask(typed, windows), "seismic-onset", options_dict(typed), Path(out_dir), settings)


def _train_windows(
    task_name: str,
    windows: LabelledWindows,
    out_dir: Path,
    settings: RunSettings,
    options: dict[str, Any],
    every: int | None = None,
) -> tuple[nn.Module, TrainResult]:
    if settings.overrides:  # the run config is built here and written nowhere first: nothing to apply them to
        raise HFMError(f"{task_name} on in-memory windows: no run-config overrides; pass the task's options instead")
    options_type, task_type = _TASKS[task_name]
    raw = {"dataset": windows.name or "in memory", "seed": settings.seed, **options}
    task = task_type(parse_options(options_type, raw, task_name), windows)
    plain = {k: v for k, v in options.items() if isinstance(v, str | int | float | dict)}  # the windows stay out
    return _fit(task, task_name, plain, out_dir, settings, every)


def _fit(
    task: Any, task_name: str, plain: dict[str, Any], out_dir: Path, settings: RunSettings, every: int | None = None
) -> tuple[nn.Module, TrainResult]:
    """A task on windows in memory through the shared trainer's short run; `plain`: the options the run config
    records."""
    # a 1% label subset may hold fewer windows than a batch
    batch_size = min(settings.batch_size, len(task.train_dataset()))
    config = Config.short_run(
        out_dir,
        task_name,
        plain,
        steps=settings.steps,
        batch_size=batch_size,
        lr=settings.lr,
        seed=settings.seed,
        progress=settings.progress,
        min_lr=_min_lr(settings.lr),
    )
    if every:  # keep a checkpoint every `every` steps, all of them
        kept = settings.steps // every
        config = replace(config, train=replace(config.train, ckpt_every=every, keep_last=kept))
    trainer = Trainer(config, task)
    result = trainer.fit()
    return trainer.raw_model, result


_TASKS: dict[str, tuple[type, type]] = {
    "seismic-mae": (MAEOptions, SeismicMAETask),
    "seismic-pick": (PickOptions, SeismicPickTask),
    "seismic-onset": (OnsetOptions, OnsetPretrainTask),
}


def export_picker(model: nn.Module, out: Path, name: str, metrics: dict[str, float], data: Path | None) -> Path:
    """An in-memory model as an artifact folder with its card (and its training data's card where there is one)."""
    refs = [DataCardReference.from_dataset(data)] if data and (data / "card.json").exists() else []
    card = ModelCard(name=name, intended_use=INTENDED_USE, limitations=LIMITS, data=refs, metrics=metrics)
    return export_model(model, out, {}, card)
