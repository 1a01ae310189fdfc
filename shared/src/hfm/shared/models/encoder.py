"""A domain's tokenizer in front of the shared trunk: patches -> linear embedding + fixed positions -> trunk.

Only `embed` (patch_dim -> width) depends on the domain; the trunk's weights live under `trunk.` in the state dict,
so a trunk trained on one domain's tokens loads into another domain's encoder (see `hfm.shared.artifacts`).
"""

from __future__ import annotations

import torch
from torch import nn

from hfm.shared.models.tokenizer import Tokenizer
from hfm.shared.models.trunk import Trunk, TrunkConfig, sincos_embedding


class TokenEncoder(nn.Module):
    """(B, *data_shape) -> (B, N, width) token embeddings; `pooled` gives one (B, width) vector per sample."""

    def __init__(self, tokenizer: Tokenizer, trunk: TrunkConfig) -> None:
        super().__init__()
        self.tokenizer = tokenizer
        self.width = trunk.width
        self.embed = nn.Linear(tokenizer.patch_dim, trunk.width)
        self.trunk = Trunk(trunk)
        nn.init.xavier_uniform_(self.embed.weight)
        nn.init.zeros_(self.embed.bias)

    def positions(self, data_shape: tuple[int, ...], device: torch.device | None = None) -> torch.Tensor:
        """(N, width) fixed sin-cos embedding of the tokenizer's patch coordinates for data of this shape."""
        coords = self.tokenizer.coordinates(tuple(data_shape))
        return sincos_embedding(coords, self.width).to(device or self.embed.weight.device)

    def embed_patches(self, patches: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """(B, N, patch_dim) patches at (N, D) or (B, N, D) coordinates -> (B, N, width) tokens before the trunk."""
        flat = coords.reshape(-1, coords.shape[-1])
        positions = sincos_embedding(flat, self.width).to(patches.device).reshape(*coords.shape[:-1], self.width)
        tokens = self.embed(patches.to(self.embed.weight.dtype))
        return tokens + positions.to(tokens.dtype)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *data_shape) -> (B, N, width) embedded patches with positions, before the trunk."""
        return self.embed_patches(self.tokenizer.patchify(x), self.tokenizer.coordinates(tuple(x.shape[1:])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(self.tokens(x))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over tokens: the sample embedding the probes use."""
        return self.forward(x).mean(dim=1)
