"""The template's pretrain and finetune shortcuts: typed options -> run.yaml -> the shared train-and-export path.

How long and how they train is one `RunSettings` (steps, batch size, lr, seed, `--set` overrides, progress), the
same object in every domain; a shortcut's own parameters are only what its task needs (here `init`)."""

from __future__ import annotations

from pathlib import Path

from hfm.shared.options import options_dict, parse_options
from hfm.shared.shortcuts import RunSettings, ShortcutResult, shortcut_config, train_and_export
from hfm.shared.train.config import ValidationConfig
from hfm.template.tasks import ClassifyOptions, MAEOptions


def pretrain(dataset: Path, out: Path, settings: RunSettings = RunSettings(steps=200)) -> ShortcutResult:
    options = options_dict(parse_options(MAEOptions, {"dataset": dataset}, "pretrain"))
    config = shortcut_config("template-mae", options, out, settings)
    return train_and_export(
        config,
        out,
        description="masked-autoencoder encoder for 1-D signals",
        intended_use="initialising template-classify",
        limitations="trained on the example signals only",
    )


def finetune(
    dataset: Path, out: Path, settings: RunSettings = RunSettings(steps=200), *, init: Path | None = None
) -> ShortcutResult:
    options = options_dict(parse_options(ClassifyOptions, {"dataset": dataset, "init": init}, "finetune"))
    # The checkpoint is chosen on the dev split, never on test.
    validation = ValidationConfig(every=max(1, settings.steps // 5), metric="accuracy", mode="max")
    config = shortcut_config("template-classify", options, out, settings, validation=validation)
    return train_and_export(
        config,
        out,
        description="signal classifier",
        intended_use="classifying signals like the training classes",
        limitations="classes of the training set only",
    )
