"""The plankton models: the core's image masked autoencoder over two channels (`hfm.plankton.tokenizer`), the
multi-instrument CNN of the study (`models.cnn`), the fine-tuned classifier (`plankton-classifier-tiny`) and the
classification head on frozen embeddings (`models.heads`).

The MAE is the core's registered `image-mae-tiny` with `channels=2`, so artifacts export and reload through
`hfm.shared.artifacts` and the trunk transfers across domains.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from hfm.plankton.tokenizer import CHANNELS, PATCH, plankton_tokenizer
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.registry import PretrainedConfig, create_model, register_model, trunk_config


@dataclass(frozen=True)
class MAESizes:
    """The sizes of the plankton MAE (the task's options beside its dataset, and the model config's)."""

    patch: int = PATCH
    width: int = 96
    depth: int = 4
    heads: int = 4
    mask_ratio: float = 0.75
    decoder_width: int = 64
    decoder_depth: int = 1
    decoder_heads: int = 4


@dataclass(frozen=True)
class PlanktonModelConfig(MAESizes):
    canvas: int = 64

    def mae_args(self) -> dict[str, int | float]:
        args = asdict(self)
        args.pop("canvas")
        return {"channels": CHANNELS, **args}


def build_mae(config: PlanktonModelConfig) -> nn.Module:
    """A fresh masked autoencoder (core registry name `image-mae-tiny` with the plankton sizes)."""
    return create_model("image-mae-tiny", **config.mae_args())


class PlanktonClassifier(nn.Module):
    """The MAE's encoder with a linear head on its mean-pooled tokens, one output per taxon (`taxa`, kept in the
    artifact's config so predictions are named). Weight names `encoder.*` match the MAE's, so a fine-tuning starts
    from a pretrained encoder through `hfm.shared.models.loading.load_encoder`."""

    def __init__(self, taxa: list[str], patch: int = PATCH, width: int = 96, depth: int = 4, heads: int = 4) -> None:
        super().__init__()
        self.taxa = list(taxa)
        trunk = trunk_config("tiny", width=width, depth=depth, heads=heads)
        self.encoder = TokenEncoder(plankton_tokenizer(patch), trunk)
        self.head = nn.Linear(self.encoder.width, len(self.taxa))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=1))


@register_model(
    "plankton-classifier-tiny",
    PretrainedConfig(
        "plankton-classifier-tiny",
        "classifier",
        "tiny",
        "plankton classifier: the plankton MAE's encoder + linear head",
        "(2, S, S) grey canvas and scale channel",
        {"taxa": ["a", "b"]},
    ),
)
def plankton_classifier(
    taxa: list[str], patch: int = PATCH, width: int = 96, depth: int = 4, heads: int = 4
) -> nn.Module:
    return PlanktonClassifier(taxa, patch, width, depth, heads)
