"""`hfm <domain> pretrain | finetune`, built once: the shared options, then the domain's own, then its shortcut.

Every domain's training verbs take the same arguments in the same order (DATASET, --out, [--init], --steps,
--batch-size, --lr, --model, --seed, --set) and report the same line; a domain gives only its defaults, the options
that are really its own and the function that runs the shortcut:

    add_training_command(app, "pretrain", run_pretrain, help="...", model="mae-tiny", steps=300,
                         extra={"width": (int, typer.Option(96, help="Trunk width."))})

`run_pretrain(run: TrainingRun) -> ShortcutResult` gets one typed object instead of a dozen parameters; its
`settings` (`hfm.shared.shortcuts.RunSettings`) go to the domain's shortcut as they are.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from hfm.shared.cli.options import BatchSize, Dataset, Init, LearningRate, Model, Out, Seed, Set, Steps
from hfm.shared.errors import HFMError
from hfm.shared.shortcuts import RunSettings


@dataclass(frozen=True)
class TrainingRun:
    """What `hfm <domain> pretrain|finetune` was asked: the shared arguments and the domain's own (`extra`)."""

    dataset: Path
    out: Path
    model: str
    settings: RunSettings
    init: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def require_model(self, *supported: str) -> None:
        """Refuse a --model this verb cannot train, naming the ones it can."""
        if self.model not in supported:
            raise HFMError(f"--model {self.model!r}: this command trains {', '.join(map(repr, supported))}")


Runner = Callable[[TrainingRun], Any]
SHARED = ("dataset", "out", "init", "steps", "batch_size", "lr", "model", "seed", "set_")


def add_training_command(
    app: typer.Typer,
    verb: str,
    run: Runner,
    *,
    help: str,
    model: str,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
    init: bool = False,
    extra: Mapping[str, tuple[Any, Any]] | None = None,
) -> None:
    """Register `verb` on `app`: the shared arguments with these defaults, then `extra` (name -> (type, default or
    typer.Option)); the command calls `run(TrainingRun)` and prints the shortcut's status, model and config."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [
        inspect.Parameter("dataset", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Dataset),
        inspect.Parameter("out", keyword, annotation=Out),
    ]
    if init:
        parameters.append(inspect.Parameter("init", keyword, annotation=Init, default=None))
    parameters += [
        inspect.Parameter("steps", keyword, annotation=Steps, default=steps),
        inspect.Parameter("batch_size", keyword, annotation=BatchSize, default=batch_size),
        inspect.Parameter("lr", keyword, annotation=LearningRate, default=lr),
        inspect.Parameter("model", keyword, annotation=Model, default=model),
        inspect.Parameter("seed", keyword, annotation=Seed, default=0),
        inspect.Parameter("set_", keyword, annotation=Set, default=None),
    ]
    for name, (kind, default) in (extra or {}).items():
        if name in SHARED:
            raise ValueError(f"{verb}: option {name!r} is one of the shared ones; give its default instead")
        parameters.append(inspect.Parameter(name, keyword, annotation=kind, default=default))

    def command(**given: Any) -> None:
        shared = {name: given.pop(name) for name in SHARED if name in given}
        done = run(
            TrainingRun(
                dataset=shared["dataset"],
                out=shared["out"],
                model=shared["model"],
                settings=RunSettings(
                    steps=shared["steps"],
                    batch_size=shared["batch_size"],
                    lr=shared["lr"],
                    seed=shared["seed"],
                    overrides=tuple(shared["set_"] or ()),
                ),
                init=shared.get("init"),
                extra=given,
            )
        )
        typer.echo(f"{done.status}: model {done.model_dir}, config {done.config_path}")

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # what typer reads
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = help
    command.__name__ = verb
    app.command(verb)(command)
