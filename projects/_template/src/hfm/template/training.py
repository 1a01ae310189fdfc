"""The template's pretrain and finetune shortcuts: typed options -> run.yaml -> the shared train-and-export path."""

from __future__ import annotations

from pathlib import Path

from hfm.shared.options import options_dict, parse_options
from hfm.shared.shortcuts import ShortcutResult, shortcut_config, train_and_export
from hfm.shared.train.config import ValidationConfig
from hfm.template.tasks import ClassifyOptions, MAEOptions


def pretrain(
    dataset: Path,
    out: Path,
    *,
    steps: int = 200,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    overrides: list[str] | None = None,
    progress: bool = True,
) -> ShortcutResult:
    options = options_dict(parse_options(MAEOptions, {"dataset": dataset}, "pretrain"))
    config = shortcut_config(
        "template-mae",
        options,
        out,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        overrides=overrides or [],
        progress=progress,
    )
    return train_and_export(
        config,
        out,
        description="masked-autoencoder encoder for 1-D signals",
        intended_use="initialising template-classify",
        limitations="trained on the example signals only",
    )


def finetune(
    dataset: Path,
    out: Path,
    *,
    init: Path | None = None,
    steps: int = 200,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    overrides: list[str] | None = None,
    progress: bool = True,
) -> ShortcutResult:
    options = options_dict(parse_options(ClassifyOptions, {"dataset": dataset, "init": init}, "finetune"))
    config = shortcut_config(
        "template-classify",
        options,
        out,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        overrides=overrides or [],
        progress=progress,
        # The checkpoint is chosen on the dev split, never on test.
        validation=ValidationConfig(every=max(1, steps // 5), metric="accuracy", mode="max"),
    )
    return train_and_export(
        config,
        out,
        description="signal classifier",
        intended_use="classifying signals like the training classes",
        limitations="classes of the training set only",
    )
