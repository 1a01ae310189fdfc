"""Model artifacts of the plankton encoder through the core (`hfm.shared.artifacts`): safetensors, config, card."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from hfm.shared.artifacts import DataCardReference, ModelCard, export_model, load_pretrained
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import as_encoder


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
