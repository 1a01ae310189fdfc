"""Training the plankton models through the shared trainer, and their artifacts through the core.

- `pretrain` / `finetune`: the CLI shortcuts. Typed options -> OUT/run.yaml -> the shared train-and-export path, so
  `hfm train OUT/run.yaml` replays the run byte for byte; the model with its card lands in OUT/model.
- `pretrain_canvases`: the same MAE task on canvases held in memory (the quickstart's, the evaluation's folds), which
  no YAML can name; it returns the model and writes only the run folder (`export_encoder` exports it).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from hfm.plankton.data import load_curated
from hfm.plankton.data.stream import plankton_stream
from hfm.plankton.models import PlanktonModelConfig
from hfm.plankton.tasks import ClassifyOptions, MAEOptions, PlanktonMAETask
from hfm.shared.artifacts import DataCardReference, ModelCard, export_model
from hfm.shared.options import options_dict, parse_options
from hfm.shared.shard_layout import is_sharded
from hfm.shared.shortcuts import RunSettings, ShortcutResult, shortcut_config, train_and_export
from hfm.shared.train.config import Config
from hfm.shared.train.trainer import Trainer

LIMITS = (
    "Trained briefly on few images; grey channel only (colour is reduced to luminance); objects larger than the "
    "canvas are shrunk, which the scale channel records but fine structure is lost."
)


def pretrain(
    dataset: str | Path, out: str | Path, settings: RunSettings = RunSettings(), **options: Any
) -> ShortcutResult:
    """Masked autoencoding on a curated dataset's images (labels unused); `options`: the MAEOptions sizes."""
    objects = len(plankton_stream(dataset)) if is_sharded(dataset) else len(load_curated(dataset)[0])
    settings = replace(settings, batch_size=min(settings.batch_size, objects))  # a small set: one batch
    return _shortcut(MAEOptions, "plankton-mae", {"dataset": str(dataset)}, out, settings, options, _MAE_CARD)


def finetune(
    dataset: str | Path,
    out: str | Path,
    settings: RunSettings = RunSettings(),
    *,
    init: str | Path | None = None,
    **options: Any,
) -> ShortcutResult:
    """The classifier on the validated objects, from the encoder of `init` when given; `options`: ClassifyOptions."""
    data = {"dataset": str(dataset), "init": init}
    return _shortcut(ClassifyOptions, "plankton-classify", data, out, settings, options, _CLASSIFIER_CARD)


_MAE_CARD = {
    "description": "Masked autoencoder over 2D patches of plankton images, with the pixel size as a second channel.",
    "intended_use": "Embeddings of single plankton objects (one object per image) for classification heads, "
    "clustering for annotation, initialising plankton-classify, and transfer of the shared trunk.",
    "limitations": LIMITS,
}
_CLASSIFIER_CARD = {
    "description": "Plankton classifier: the plankton MAE's encoder fine-tuned with a class-weighted linear head.",
    "intended_use": "Classifying single plankton objects into the training taxa (`hfm plankton predict`), with a "
    "confidence threshold below which an object stays unassigned.",
    "limitations": LIMITS + " Knows only the taxa of its training set.",
}


def _shortcut(
    options_type: type,
    task: str,
    data: dict[str, Any],
    out: str | Path,
    settings: RunSettings,
    options: dict[str, Any],
    card: dict,
) -> ShortcutResult:
    """Typed task options -> OUT/run.yaml -> train and export."""
    typed = parse_options(options_type, data | options, task)
    config = shortcut_config(task, options_dict(typed), out, settings)
    return train_and_export(config, out, **card)


def export_encoder(
    mae: nn.Module,
    out_dir: str | Path,
    dataset: str | Path | None,
    training: dict[str, Any],
    metrics: dict | None = None,
) -> Path:
    card = ModelCard(
        name="hfm-plankton-mae",
        description="Masked autoencoder over 2D patches of plankton images, with the pixel size as a second channel.",
        intended_use="Embeddings of single plankton objects (one object per image) for classification heads, "
        "clustering for annotation, and transfer of the shared trunk.",
        limitations=LIMITS,
        data=[DataCardReference.from_dataset(dataset)] if dataset else [],
        training={k: v for k, v in training.items() if isinstance(v, int | float | str) or v is None},
        metrics=metrics or {},
    )
    return export_model(mae, out_dir, {}, card)


def pretrain_canvases(
    canvases: np.ndarray,
    pixel_size_um: np.ndarray,
    out_dir: str | Path,
    model: PlanktonModelConfig | None = None,
    steps: int = 200,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """Masked-autoencoder pretraining on canvases in memory with the core trainer; returns the trained MAE and the
    run summary."""
    model = model or PlanktonModelConfig(canvas=canvases.shape[-1])
    task = PlanktonMAETask.from_canvases(canvases, pixel_size_um, model)
    config = Config.short_run(
        out_dir,
        "plankton-mae",
        {},
        steps=steps,
        batch_size=min(batch_size, len(canvases)),
        lr=lr,
        seed=seed,
        progress=progress,
    )
    trainer = Trainer(config, task)
    result = trainer.fit()
    trained = trainer.raw_model.eval()
    first, last = _first_last_loss(Path(out_dir))
    return trained, {
        "steps": result.step,
        "wall_s": result.wall_s,
        "samples_per_s": result.samples_per_s,
        "loss_first": first,
        "loss_last": last,
    }


def _first_last_loss(run_dir: Path) -> tuple[float | None, float | None]:
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return None, None
    losses = [json.loads(line).get("loss") for line in path.read_text().splitlines() if line.strip()]
    losses = [x for x in losses if x is not None]
    return (losses[0], losses[-1]) if losses else (None, None)
