"""The plankton models: the core's image masked autoencoder over two channels (`hfm.plankton.tokenizer`), the
multi-instrument CNN of the study (`models.cnn`) and the classification head on embeddings (`models.heads`).

The MAE is the core's registered `image-mae-tiny` with `channels=2`, so artifacts export and reload through
`hfm.shared.artifacts` and the trunk transfers across domains.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from hfm.plankton.tokenizer import CHANNELS, PATCH
from hfm.shared.models.registry import create_model


@dataclass
class PlanktonModelConfig:
    canvas: int = 64
    patch: int = PATCH
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
