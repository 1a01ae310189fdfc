"""`hfm train CONFIG`: run (or resume) a training run described by a YAML file, standalone or under accelerate."""

from __future__ import annotations

from pathlib import Path

import typer

from hfm.shared.exitcodes import EXIT_REQUEUE


def train(
    config: Path = typer.Argument(
        ..., help="Run configuration (YAML): sections run, task, train, optim, ema, data, validation."
    ),
    set_: list[str] = typer.Option(
        None, "--set", "-s", help="Override one key, e.g. --set optim.lr=1e-3 --set train.steps=50; repeatable."
    ),
    out_dir: Path = typer.Option(None, "--out-dir", "-o", help="Run folder (same as --set run.out_dir=...)."),
    print_config: bool = typer.Option(False, "--print-config", help="Print the resolved config and exit."),
) -> None:
    """Train a task; resumes automatically from the newest valid checkpoint in the run folder.

    With `validation.every` > 0 the best validated step is kept and written to final/ (the last one to last/).
    A run folder in use by another run is refused (run.lock names its PID and host).

    Exits with code 75 (requeue) after saving a checkpoint when it receives SIGTERM or SIGUSR1. Several processes:
    `accelerate launch --num_processes N -m hfm.shared.cli.main train CONFIG`.
    """
    # Imported here so that `hfm --help` stays fast.
    from hfm.shared.train.config import config_to_yaml, load_config
    from hfm.shared.train.task import build_task
    from hfm.shared.train.trainer import Trainer

    overrides = list(set_ or [])
    if out_dir is not None:
        overrides.append(f"run.out_dir={out_dir}")
    cfg = load_config(config, overrides)
    if print_config:
        typer.echo(config_to_yaml(cfg), nl=False)
        return
    task = build_task(cfg.task.name, dict(cfg.task.options))
    trainer = Trainer(cfg, task)
    result = trainer.fit()
    if trainer.accelerator.is_main_process:
        rate = f"{result.samples_per_s:.1f} samples/s" if result.samples_per_s else "no steps run"
        typer.echo(
            f"{result.status} at step {result.step} in {result.wall_s:.1f} s ({rate}); run folder {result.run_dir}"
        )
        if result.selection is not None:
            s = result.selection
            stopped = ", stopped early" if s["stopped_early"] else ""
            typer.echo(
                f"final/ = step {s['best_step']} (validation {s['metric']} {s['best_score']:.6g}, {s['mode']}"
                f"{stopped}); last step in last/"
            )
    if result.status == "preempted":
        raise typer.Exit(EXIT_REQUEUE)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
