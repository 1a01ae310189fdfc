"""The plankton encoder: the core's image masked autoencoder over two channels, pixels and physical scale.

Channel 0 holds the grey canvas, centred (2x - 1). Channel 1 is constant over the image and holds
log2(pixel size / 1 um) / 4, so every 2D patch token carries how many micrometres it spans; the same organism imaged
by a ZooScan (10.6 um/px) and a FlowCam (~1 um/px) is told apart from a small one that only looks alike. Models are
the core's registered `image-mae-*` / `image-encoder-*` with `channels=2`, so artifacts export and reload through
`hfm.shared.artifacts` and the trunk transfers across domains.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from hfm.shared.models.registry import create_model

CHANNELS = 2


@dataclass
class PlanktonModelConfig:
    canvas: int = 64
    patch: int = 8
    width: int = 96
    depth: int = 4
    heads: int = 4
    mask_ratio: float = 0.75
    decoder_width: int = 64
    decoder_depth: int = 1
    decoder_heads: int = 4

    def mae_args(self) -> dict[str, int | float]:
        args = asdict(self)
        args.pop("canvas")
        return {"channels": CHANNELS, **args}


def build_mae(config: PlanktonModelConfig) -> nn.Module:
    """A fresh masked autoencoder (core registry name `image-mae-tiny` with the plankton sizes)."""
    return create_model("image-mae-tiny", **config.mae_args())


def scale_channel(pixel_size_um: np.ndarray) -> np.ndarray:
    return (np.log2(np.asarray(pixel_size_um, dtype=np.float64)) / 4.0).astype(np.float32)


def model_input(canvases: np.ndarray, pixel_size_um: np.ndarray) -> torch.Tensor:
    """(N, S, S) grey canvases in [0, 1] and (N,) canvas pixel sizes -> (N, 2, S, S) model input."""
    canvases = np.asarray(canvases, dtype=np.float32)
    if canvases.ndim != 3:
        raise ValueError(f"canvases must be (N, S, S), got shape {canvases.shape}")
    scale = np.broadcast_to(scale_channel(pixel_size_um)[:, None, None], canvases.shape)
    return torch.from_numpy(np.stack([canvases * 2.0 - 1.0, scale], axis=1).copy())
