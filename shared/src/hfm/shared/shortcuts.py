"""The one train-and-export path behind every domain's `pretrain` / `finetune` shortcut.

A shortcut is a run config, not a second way to train: it writes `OUT/run.yaml` first, trains exactly what that file
says through the same code as `hfm train` (task from the registry, the shared trainer), then exports the model with
its card to `OUT/model`. So

    hfm seismic pretrain DATASET --out runs/p --steps 300
    hfm train runs/p/run.yaml --set run.out_dir=runs/replay

train the same model, byte for byte, and a cluster job can start from the YAML a laptop run wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hfm.shared.errors import HFMError
from hfm.shared.jsonio import write_atomic

RUN_FILE = "run.yaml"


@dataclass(frozen=True)
class RunSettings:
    """How a training shortcut runs, the same knobs in every domain (the CLI's `--steps`, `--batch-size`, `--lr`,
    `--seed`, `--set`): optimiser `steps`; `batch_size`, global per optimiser step; `lr`, the peak learning rate
    (warm-up, then cosine decay); `seed` of data order, initialisation and masking; `overrides`, run-config keys
    `section.key=value` applied last, as `hfm train --set` applies them; `progress`, a progress bar. A domain's
    shortcut takes one of these with its own defaults; the rest of its signature is the task's own options."""

    steps: int = 300
    batch_size: int = 32
    lr: float = 1e-3
    seed: int = 0
    overrides: tuple[str, ...] = ()
    progress: bool = True


@dataclass(frozen=True)
class ShortcutResult:
    config_path: Path  # OUT/run.yaml: replay with `hfm train`
    run_dir: Path  # OUT/run: checkpoints, metrics, the trainer's own config.yaml
    model_dir: Path  # OUT/model: model.safetensors, config.json, model card
    status: str  # the trainer's: "completed", "stopped early", "preempted"


def shortcut_config(
    task: str,
    options: dict[str, Any],
    out: str | Path,
    settings: RunSettings,
    **short_run: Any,
) -> Any:
    """The run config of a shortcut: `Config.short_run` with the settings (and the domain's own `short_run` keywords,
    e.g. `min_lr`), then the settings' `section.key=value` overrides applied exactly as `hfm train --set` applies
    them (so both spellings mean the same)."""
    from hfm.shared.train.config import Config, config_to_yaml, load_config

    base = Config.short_run(
        Path(out) / "run",
        task,
        dict(options),
        steps=settings.steps,
        batch_size=settings.batch_size,
        lr=settings.lr,
        seed=settings.seed,
        progress=settings.progress,
        **short_run,
    )
    if not settings.overrides:
        return base
    # Round trip through YAML so overrides are parsed and validated by the one config loader.
    staging = Path(out) / ".run.base.yaml"
    staging.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(staging, config_to_yaml(base))
    try:
        return load_config(staging, list(settings.overrides))
    finally:
        staging.unlink(missing_ok=True)


def train_and_export(
    config: Any,
    out: str | Path,
    *,
    description: str,
    intended_use: str,
    limitations: str,
    name: str | None = None,
    license: str = "Apache-2.0",
    authors: list[str] | None = None,
) -> ShortcutResult:
    """Write `out/run.yaml`, train it with the shared trainer, export the model with its card to `out/model`."""
    from hfm.shared.artifacts import export_run
    from hfm.shared.train.config import config_to_yaml
    from hfm.shared.train.task import build_task
    from hfm.shared.train.trainer import Trainer

    out = Path(out)
    if Path(config.run.out_dir).resolve() != (out / "run").resolve():
        raise HFMError(f"run.out_dir must be {out / 'run'} for a shortcut writing to {out}, got {config.run.out_dir}")
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / RUN_FILE
    write_atomic(config_path, config_to_yaml(config))
    trainer = Trainer(config, build_task(config.task.name, dict(config.task.options)))
    result = trainer.fit()
    model_dir = out / "model"
    if result.status != "preempted" and trainer.accelerator.is_main_process:
        export_run(
            out / "run",
            model_dir,
            intended_use=intended_use,
            limitations=limitations,
            license=license,
            name=name or out.name,
            description=description,
            authors=authors,
        )
    return ShortcutResult(config_path, out / "run", model_dir, result.status)
