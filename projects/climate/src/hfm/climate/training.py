"""Climate's train-and-export: typed task options -> OUT/run.yaml -> the shared shortcut path (`hfm train
OUT/run.yaml` replays it), the model exported with its card to OUT/model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hfm.climate.tasks import CorpusOptions, DownscaleOptions, ForecastOptions, MAEOptions
from hfm.shared.options import options_dict, parse_options
from hfm.shared.shortcuts import RunSettings, ShortcutResult, shortcut_config
from hfm.shared.shortcuts import train_and_export as shared_train_and_export

_OPTIONS = {
    "climate-mae": MAEOptions,
    "climate-forecast": ForecastOptions,
    "climate-downscale": DownscaleOptions,
    "climate-corpus-mae": CorpusOptions,
}

_PURPOSE = {
    "climate-mae": "masked token pretraining on gridded fields (temporal interpolation with mode=interpolation)",
    "climate-forecast": "forecasting gridded fields at a base lead, longer leads by autoregressive rollout",
    "climate-downscale": "downscaling a 4x coarser field to the native grid",
    "climate-corpus-mae": "masked token pretraining of one trunk on tiles of many curated stores and variables",
}


def train_and_export(
    task: str,
    options: dict[str, Any],
    out_dir: str | Path,
    *,
    steps: int = 200,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    overrides: Sequence[str] = (),
) -> ShortcutResult:
    """Train `task` in `out_dir/run` (config in `out_dir/run.yaml`), export the model to `out_dir/model`. The
    options are checked and written in full (every default spelt out), so the YAML replays without this code."""
    options = options_dict(parse_options(_OPTIONS[task], options, f"task {task}"))
    settings = RunSettings(
        steps=steps, batch_size=batch_size, lr=lr, seed=seed, overrides=tuple(overrides), progress=progress
    )
    config = shortcut_config(task, options, out_dir, settings, weight_decay=0.01, warmup_steps=min(20, steps // 10))
    return shared_train_and_export(
        config,
        out_dir,
        name=f"{task}-{Path(options['dataset']).name if 'dataset' in options else 'corpus'}",
        description=_PURPOSE[task],
        intended_use=_PURPOSE[task] + "; research use on the curated dataset's grid and variables",
        limitations="trained briefly on one small grid; not a general weather model; inputs must be standardised "
        "anomalies against the same dataset's training climatology",
    )
