"""Training the plankton MAE in-process with the core trainer, and its model artifact through the core
(`hfm.shared.artifacts`): safetensors, config, card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from hfm.plankton.models import PlanktonModelConfig
from hfm.plankton.tasks import PlanktonMAETask
from hfm.plankton.tokenizer import model_input
from hfm.shared.artifacts import DataCardReference, ModelCard, export_model, load_pretrained
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import as_encoder
from hfm.shared.train.config import Config
from hfm.shared.train.trainer import Trainer


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
        limitations="Trained briefly on few images; grey channel only (colour is reduced to luminance); objects "
        "larger than the canvas are shrunk, which the scale channel records but fine structure is lost.",
        data=[DataCardReference.from_dataset(dataset)] if dataset else [],
        training={k: v for k, v in training.items() if isinstance(v, int | float | str) or v is None},
        metrics=metrics or {},
    )
    return export_model(mae, out_dir, {}, card)


def load_encoder(path: str | Path) -> nn.Module:
    """The encoder inside an exported plankton MAE artifact."""
    if not (Path(path) / "config.json").exists():
        raise HFMError(f"{path}: not a model artifact (no config.json); run `hfm plankton pretrain` first")
    model, _ = load_pretrained(path)
    return as_encoder(model).eval()


def pretrain(
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
    """Masked-autoencoder pretraining with the core trainer; returns the trained MAE and the run summary."""
    model = model or PlanktonModelConfig(canvas=canvases.shape[-1])
    task = PlanktonMAETask(model_input(canvases, pixel_size_um), model)
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
    import json

    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return None, None
    losses = [json.loads(line).get("loss") for line in path.read_text().splitlines() if line.strip()]
    losses = [x for x in losses if x is not None]
    return (losses[0], losses[-1]) if losses else (None, None)
