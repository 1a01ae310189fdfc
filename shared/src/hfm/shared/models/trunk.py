"""The Transformer trunk shared by every domain: pre-norm blocks over a sequence of token vectors."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class TrunkConfig:
    """The shared Transformer trunk's size: `width` is the token dimension, `depth` the number of pre-norm blocks,
    `heads` the attention heads (width must divide by it), `mlp_ratio` the MLP's hidden size as a multiple of the
    width, `dropout` the probability on the attention weights and the MLP's hidden layer (training only)."""

    width: int = 192
    depth: int = 6
    heads: int = 3
    mlp_ratio: float = 4.0
    dropout: float = 0.0


class Attention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, tokens, width = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        # key_padding_mask: True where a token is padding; SDPA wants True where attention is allowed.
        mask = None if key_padding_mask is None else ~key_padding_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, width))


class Block(nn.Module):
    def __init__(self, config: TrunkConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.width)
        self.attn = Attention(config.width, config.heads, config.dropout)
        self.norm2 = nn.LayerNorm(config.width)
        hidden = int(config.width * config.mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(config.width, hidden), nn.GELU(), nn.Dropout(config.dropout), nn.Linear(hidden, config.width)
        )

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), key_padding_mask)
        return x + self.mlp(self.norm2(x))


class Trunk(nn.Module):
    """`depth` pre-norm blocks and a final LayerNorm; (B, N, width) -> (B, N, width)."""

    def __init__(self, config: TrunkConfig) -> None:
        super().__init__()
        self.config = config
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(config.width)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, key_padding_mask)
        return self.norm(x)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def sincos_embedding(coordinates: torch.Tensor, width: int, max_period: float = 10000.0) -> torch.Tensor:
    """Fixed sine-cosine embedding of N points with D coordinates each: (N, D) -> (N, width).

    The width is split evenly between coordinates, so the same function serves 1D, 2D, 3D and 4D token grids and a
    trunk can move between domains with different grids.
    """
    dims = coordinates.shape[1]
    per_dim = (width // dims) // 2 * 2
    if per_dim == 0:
        raise ValueError(f"width {width} too small for {dims} coordinates")
    half = per_dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    parts = []
    for d in range(dims):
        angles = coordinates[:, d : d + 1].float() * frequencies[None, :]
        parts += [torch.sin(angles), torch.cos(angles)]
    embedding = torch.cat(parts, dim=1)
    if embedding.shape[1] < width:
        embedding = F.pad(embedding, (0, width - embedding.shape[1]))
    return embedding
