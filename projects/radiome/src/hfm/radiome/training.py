"""Running radiome tasks: the domain's optimiser settings, a short run for the experiments, and the `pretrain` /
`finetune` shortcuts (typed options -> OUT/run.yaml -> the shared train-and-export path; `hfm train OUT/run.yaml`
replays them). The exported model folder gets the plan it was trained with (`plan.json`), which `predict` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from hfm.radiome.curate.fingerprint import PLAN_FILE, Plan, save_model
from hfm.radiome.tasks import MAE_MODEL, TASKS, MAEOptions, SegmentOptions
from hfm.shared.options import options_dict, parse_options
from hfm.shared.shortcuts import RunSettings, ShortcutResult, shortcut_config, train_and_export


def optimiser_settings(lr: float) -> dict[str, Any]:
    """What every radiome run uses beside the learning rate: weight decay 0.01, cosine to lr/20, five log lines."""
    return {"weight_decay": 0.01, "min_lr": lr * 0.05, "logs": 5}


def train(
    task_name: str,
    options: dict[str, Any],
    out_dir: str | Path,
    steps: int,
    batch_size: int = 2,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """One short run of a radiome task through the shared trainer (experiments): the model and the run summary."""
    from hfm.shared.train.config import Config
    from hfm.shared.train.trainer import Trainer

    task = TASKS[task_name](dict(options))
    config = Config.short_run(
        out_dir,
        task_name,
        options_dict(task.options),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        **optimiser_settings(lr),
    )
    trainer = Trainer(config, task)
    result = trainer.fit()
    return trainer.raw_model, {"steps": result.step, "wall_s": result.wall_s, "samples_per_s": result.samples_per_s}


def _shortcut(
    task: str, options: dict[str, Any], out: Path, plan: Plan, card: dict[str, str], settings: RunSettings
) -> ShortcutResult:
    config = shortcut_config(task, options, out, settings, **optimiser_settings(settings.lr))
    result = train_and_export(config, out, **card)
    if result.model_dir.is_dir():
        save_model(result.model_dir / PLAN_FILE, plan)
    return result


def pretrain(
    dataset: Path,
    out: Path,
    plan: Plan,
    settings: RunSettings = RunSettings(steps=200, batch_size=2, lr=1.5e-3),
    *,
    model: str = MAE_MODEL,
    model_args: dict[str, Any] | None = None,
) -> ShortcutResult:
    """Masked image modelling on random patches of every curated volume; the model to OUT/model."""
    raw = {"dataset": dataset, "patch_size": plan.patch_size, "model": model, "model_args": model_args or {}}
    options = options_dict(parse_options(MAEOptions, raw | {"seed": settings.seed}, "pretrain"))
    card = {
        "description": "3D masked autoencoder: encoder for radiome segmenters and classifiers",
        "intended_use": "initialising radiome segmenters and classifiers (--init)",
        "limitations": f"pretrained for {settings.steps} steps on {Path(dataset).name}",
    }
    return _shortcut("radiome-mae", options, out, plan, card, settings)


def finetune(
    dataset: Path,
    out: Path,
    plan: Plan,
    labels: list[str],
    settings: RunSettings = RunSettings(steps=100, batch_size=2),
    *,
    init: Path | None = None,
    model: str = "radiome-unetr-tiny",
    model_args: dict[str, Any] | None = None,
    label_fraction: float = 1.0,
) -> ShortcutResult:
    """A segmenter on the labelled cases, from the encoder of `init` or from scratch; the model to OUT/model."""
    raw = {"dataset": dataset, "patch_size": plan.patch_size, "model": model, "model_args": model_args or {}}
    raw |= {"seed": settings.seed, "init": init, "label_fraction": label_fraction}
    options = options_dict(parse_options(SegmentOptions, raw, "finetune"))
    card = {
        "description": f"{model} segmenting {', '.join(labels)}",
        "intended_use": f"segmenting {', '.join(labels)} in volumes like {Path(dataset).name}",
        "limitations": f"trained for {settings.steps} steps on {Path(dataset).name}",
    }
    return _shortcut("radiome-segment", options, out, plan, card, settings)
