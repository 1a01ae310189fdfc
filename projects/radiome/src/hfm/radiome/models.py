"""Radiome models on the shared trunk: the volume MAE, a UNETR-style segmenter and a volume classifier.

All three hold the same `encoder` (VolumeTokenizer + TokenEncoder), so weights exported from `radiome-mae-*`
(`encoder.*` keys) load into the segmenter and classifier with every encoder key matched. Positions are sin-cos of
patch coordinates, so a model trained on one patch size runs on any other that divides by the token size.

The segmenter follows UNETR (Hatamizadeh et al. 2022) with MONAI's blocks: hidden states from a third, two thirds
and the end of the trunk are reshaped to the token grid and brought back to full resolution through transposed
convolutions, joined by skip connections to a convolution of the input.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import torch
from monai.networks.blocks import UnetOutBlock, UnetrBasicBlock, UnetrPrUpBlock, UnetrUpBlock
from torch import nn

from hfm.radiome.tokenizer import VolumeTokenizer
from hfm.shared.errors import HFMError
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.mae import MAEConfig, MaskedAutoencoder
from hfm.shared.models.registry import PretrainedConfig, register_model, trunk_config

UNETR_TOKEN = 8  # the default: three 2x up-sampling stages bring the token grid back to voxels
# Token sizes the decoder knows, and its 2x up-sampling stages: 4^3 tokens (two stages) fit the 4 mm whole-head
# grid, where 8^3 tokens are 32 mm and the UNETR did not learn (docs/radiome-experiments.md, fourth and fifth pass).
UNETR_STAGES = {4: 2, 8: 3}


def volume_encoder(channels: int = 1, patch: int = UNETR_TOKEN, trunk: str = "tiny", **trunk_args: Any) -> TokenEncoder:
    return TokenEncoder(VolumeTokenizer(channels, patch), trunk_config(trunk, **trunk_args))


class UNETRSegmenter(nn.Module):
    """(B, C, X, Y, Z) -> (B, classes, X, Y, Z) logits; X, Y, Z divisible by the token size (4 or 8).

    Level l of the decoder (l = 0 the voxels, l = stages the token grid) has `features` * 2^l channels. Its skip is
    a convolution of the input at level 0 and, above, the l-th tapped hidden state (shallower taps to finer levels,
    as in UNETR) brought up from the token grid by stages - l transposed convolutions. Module names (enc1.., dec1..)
    are those of the 8^3-token UNETR whatever the token size.
    """

    def __init__(self, encoder: TokenEncoder, classes: int, features: int = 16, res_block: bool = False) -> None:
        super().__init__()
        tokenizer = encoder.tokenizer
        token = getattr(tokenizer, "patch", None)
        if token not in UNETR_STAGES:
            raise HFMError(f"the UNETR decoder needs 4^3 or 8^3 tokens, got {token if token else '?'}")
        self.encoder = encoder
        self.stages = stages = UNETR_STAGES[token]
        width, depth, f, c = encoder.width, len(encoder.trunk.blocks), features, tokenizer.channels
        self.taps = sorted({max(0, depth // 3 - 1), max(0, 2 * depth // 3 - 1)})
        norm = "instance"
        self.res_block = res_block
        self.enc1 = UnetrBasicBlock(3, c, f, kernel_size=3, stride=1, norm_name=norm, res_block=res_block)
        for level in range(1, stages):
            # tap `level - 1` brought up from the token grid to level `level` (num_layer extra up-sampling blocks)
            block = UnetrPrUpBlock(
                3,
                width,
                f * 2**level,
                num_layer=stages - level - 1,
                kernel_size=3,
                stride=1,
                upsample_kernel_size=2,
                norm_name=norm,
                conv_block=True,
                res_block=res_block,
            )
            self.add_module(f"enc{level + 1}", block)
        for level in reversed(range(stages)):
            into = width if level == stages - 1 else f * 2 ** (level + 1)
            block = UnetrUpBlock(
                3, into, f * 2**level, kernel_size=3, upsample_kernel_size=2, norm_name=norm, res_block=res_block
            )
            self.add_module(f"dec{level + 1}", block)
        self.out = UnetOutBlock(3, f, classes)

    def hidden_states(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Token states after the tapped blocks and after the final norm."""
        tokens = self.encoder.tokens(x)
        states = []
        for index, block in enumerate(self.encoder.trunk.blocks):
            tokens = block(tokens)
            if index in self.taps:
                states.append(tokens)
        states.append(self.encoder.trunk.norm(tokens))
        while len(states) < 3:
            states.insert(0, states[0])
        return states

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx, gy, gz = self.encoder.tokenizer.grid(tuple(x.shape[1:]))

        def grid(t: torch.Tensor) -> torch.Tensor:
            return t.transpose(1, 2).reshape(t.shape[0], t.shape[2], gx, gy, gz)

        states = self.hidden_states(x)
        skips = [self.enc1(x)] + [
            getattr(self, f"enc{level + 1}")(grid(states[level - 1])) for level in range(1, self.stages)
        ]
        h = grid(states[-1])
        for level in reversed(range(self.stages)):
            h = getattr(self, f"dec{level + 1}")(h, skips[level])
        return self.out(h)


class VolumeClassifier(nn.Module):
    """(B, C, X, Y, Z) -> (B, classes): mean of the encoder's tokens, LayerNorm, linear."""

    def __init__(self, encoder: TokenEncoder, classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Sequential(nn.LayerNorm(encoder.width), nn.Linear(encoder.width, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.pooled(x))


_INPUT = "(C, X, Y, Z) volumes in RAS, normalised, sides divisible by the patch"


# Radiome's masked autoencoding: tokens hidden in blocks of 2 x 2 x 2 and a light decoder (the core's: single tokens,
# 128 wide, 2 deep, 4 heads).
RADIOME_MAE = MAEConfig(block_size=2, decoder_width=96, decoder_depth=1, decoder_heads=3)
_MAE_FIELDS = {f.name for f in fields(MAEConfig)}


@register_model(
    "radiome-mae-tiny",
    PretrainedConfig(
        "radiome-mae-tiny",
        "mae",
        "tiny",
        "3D masked autoencoder: 8^3 voxel tokens + trunk-tiny, 75% of tokens hidden in 2x2x2-token blocks",
        _INPUT,
        {"channels": 1, "patch": 8},
    ),
)
def radiome_mae_tiny(channels: int = 1, patch: int = 8, **args: Any) -> nn.Module:
    """`args`: MAEConfig fields over RADIOME_MAE's, the rest the trunk's."""
    mae = replace(RADIOME_MAE, **{k: args.pop(k) for k in list(args) if k in _MAE_FIELDS})
    return MaskedAutoencoder(volume_encoder(channels, patch, **args), mae)


@register_model(
    "radiome-unetr-tiny",
    PretrainedConfig(
        "radiome-unetr-tiny",
        "segmenter",
        "tiny",
        "UNETR-style segmenter (MONAI blocks) on trunk-tiny",
        _INPUT,
        {"channels": 1, "classes": 3},
    ),
)
def radiome_unetr_tiny(
    channels: int = 1, classes: int = 3, features: int = 16, patch: int = UNETR_TOKEN, **trunk_args: Any
) -> nn.Module:
    """`patch`: the token size, 8 (2 mm patch networks) or 4 (the 4 mm whole-head grid: 12^3 tokens in 48^3)."""
    return UNETRSegmenter(volume_encoder(channels, patch, **trunk_args), classes, features)


@register_model(
    "radiome-classifier-tiny",
    PretrainedConfig(
        "radiome-classifier-tiny",
        "classifier",
        "tiny",
        "volume classifier: mean token + linear, trunk-tiny",
        _INPUT,
        {"channels": 1, "classes": 2},
    ),
)
def radiome_classifier_tiny(channels: int = 1, classes: int = 2, patch: int = 8, **trunk_args: Any) -> nn.Module:
    return VolumeClassifier(volume_encoder(channels, patch, **trunk_args), classes)
