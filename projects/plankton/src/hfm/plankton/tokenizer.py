"""The plankton tokenizer: a grey canvas and its physical scale as two channels, cut into 2D patches for the trunk.

Channel 0 holds the grey canvas, centred (2x - 1). Channel 1 is constant over the image and holds
log2(pixel size / 1 um) / 4, so every patch token carries how many micrometres it spans; the same organism imaged
by a ZooScan (10.6 um/px) and a FlowCam (~1 um/px) is told apart from a small one that only looks alike. The core's
image tokenizer does the cutting (8 x 8 patches by default, both channels in each patch vector).
"""

from __future__ import annotations

import numpy as np
import torch

from hfm.shared.models.generic_tokenizers import ImageTokenizer

CHANNELS = 2
PATCH = 8


def plankton_tokenizer(patch: int = PATCH) -> ImageTokenizer:
    return ImageTokenizer(channels=CHANNELS, patch=patch)


def scale_channel(pixel_size_um: np.ndarray) -> np.ndarray:
    return (np.log2(np.asarray(pixel_size_um, dtype=np.float64)) / 4.0).astype(np.float32)


def model_input(canvases: np.ndarray, pixel_size_um: np.ndarray) -> torch.Tensor:
    """(N, S, S) grey canvases in [0, 1] and (N,) canvas pixel sizes -> (N, 2, S, S) model input."""
    canvases = np.asarray(canvases, dtype=np.float32)
    if canvases.ndim != 3:
        raise ValueError(f"canvases must be (N, S, S), got shape {canvases.shape}")
    scale = np.broadcast_to(scale_channel(pixel_size_um)[:, None, None], canvases.shape)
    return torch.from_numpy(np.stack([canvases * 2.0 - 1.0, scale], axis=1).copy())
