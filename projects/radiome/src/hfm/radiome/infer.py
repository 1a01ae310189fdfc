"""Whole-volume inference with MONAI's `sliding_window_inference`: memory bounded by the window, not the volume."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from torch import nn


@torch.no_grad()
def predict_volume(
    model: nn.Module, image: np.ndarray, roi_size: Sequence[int], overlap: float = 0.25, sw_batch_size: int = 2
) -> np.ndarray:
    """(C, X, Y, Z) normalised image -> (X, Y, Z) uint8 class map; Gaussian-weighted overlapping windows."""
    model.eval()
    inputs = torch.as_tensor(np.ascontiguousarray(image), dtype=torch.float32)[None]
    logits = sliding_window_inference(
        inputs,
        roi_size=tuple(int(n) for n in roi_size),
        sw_batch_size=sw_batch_size,
        predictor=model,
        overlap=overlap,
        mode="gaussian",
    )
    return logits[0].argmax(dim=0).to(torch.uint8).numpy()


def dice_per_class(prediction: np.ndarray, reference: np.ndarray, classes: Sequence[int]) -> dict[int, float]:
    """Dice of each class (1.0 where both are empty, as nnU-Net reports it)."""
    out = {}
    for c in classes:
        p, r = prediction == c, reference == c
        denominator = int(p.sum()) + int(r.sum())
        out[int(c)] = 1.0 if denominator == 0 else 2.0 * int((p & r).sum()) / denominator
    return out
