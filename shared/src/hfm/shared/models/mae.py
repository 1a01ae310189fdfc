"""Masked autoencoding over tokens, generic over tokenizers (He et al. 2022, "Masked Autoencoders Are Scalable
Vision Learners", applied to whatever patches a domain's tokenizer makes).

1. The tokenizer cuts a batch into N patches with coordinates; the encoder embeds them and adds positions.
2. `random_mask` hides exactly round(mask_ratio * N) tokens of each sample. With `block_size` b > 1 it hides whole
   blocks: tokens are grouped into cells of b x b x ... patch units on the tokenizer's coordinate grid (a span of b
   consecutive patches for series, a b x b square for images, a b^3 cube for volumes) and cells are hidden in
   random order; the last cell is cut short so the ratio stays exact.
3. The encoder's trunk sees only the visible tokens. A light decoder gets them back at their places, a learned mask
   token everywhere else, its own sin-cos positions, and predicts every patch.
4. The loss is the mean squared error over the hidden patches only; with `norm_targets` each target patch is first
   normalised by its own mean and variance (the MAE paper's better-representation option). A domain whose raw
   patches are a poor target overrides `targets` and `target_dim` in a subclass (seismic predicts spectra).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from hfm.shared.errors import HFMError
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.trunk import Trunk, TrunkConfig, sincos_embedding


@dataclass
class MAEConfig:
    mask_ratio: float = 0.75
    block_size: int = 1
    norm_targets: bool = True
    decoder_width: int = 128
    decoder_depth: int = 2
    decoder_heads: int = 4

    def __post_init__(self) -> None:
        if not 0.0 < self.mask_ratio < 1.0:
            raise HFMError(f"MAEConfig.mask_ratio must lie in (0, 1), got {self.mask_ratio}")
        if self.block_size < 1:
            raise HFMError(f"MAEConfig.block_size must be >= 1, got {self.block_size}")


@dataclass
class MAEOutput:
    loss: torch.Tensor  # scalar: MSE over the masked patches
    prediction: torch.Tensor  # (B, N, patch_dim) in target space (per-patch normalised when norm_targets)
    mask: torch.Tensor  # (B, N) bool, True where a token was hidden


def masked_count(tokens: int, ratio: float) -> int:
    hidden = round(ratio * tokens)
    if not 0 < hidden < tokens:
        raise HFMError(f"mask ratio {ratio} over {tokens} tokens hides {hidden}: need at least one hidden and one seen")
    return hidden


def random_mask(
    batch: int,
    coords: torch.Tensor,
    ratio: float,
    block_size: int = 1,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """(B, N) bool mask, True = hidden, exactly round(ratio * N) per sample; blocks on the coordinate grid."""
    tokens = coords.shape[0]
    hidden = masked_count(tokens, ratio)
    cells = torch.floor(coords.float() / block_size).long()
    _, cell_of_token = torch.unique(cells, dim=0, return_inverse=True)
    n_cells = int(cell_of_token.max()) + 1
    cell_rank = torch.rand(batch, n_cells, generator=generator).argsort(dim=1).argsort(dim=1)
    # Tokens of the cell ranked first come first, in token order within a cell: the first `hidden` form whole cells.
    score = cell_rank[:, cell_of_token] * tokens + torch.arange(tokens)[None, :]
    order = score.argsort(dim=1)
    mask = torch.zeros(batch, tokens, dtype=torch.bool)
    mask.scatter_(1, order[:, :hidden], True)
    return mask


class MaskedAutoencoder(nn.Module):
    def __init__(self, encoder: TokenEncoder, config: MAEConfig | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = config = config or MAEConfig()
        self.decoder_embed = nn.Linear(encoder.width, config.decoder_width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.decoder_width))
        self.decoder = Trunk(TrunkConfig(config.decoder_width, config.decoder_depth, config.decoder_heads))
        self.decoder_pred = nn.Linear(config.decoder_width, self.target_dim())
        nn.init.normal_(self.mask_token, std=0.02)

    def target_dim(self) -> int:
        """Length of one patch's target vector: the patch itself unless a subclass predicts something else."""
        return self.encoder.tokenizer.patch_dim

    def targets(self, patches: torch.Tensor) -> torch.Tensor:
        if not self.config.norm_targets:
            return patches
        mean = patches.mean(dim=-1, keepdim=True)
        var = patches.var(dim=-1, keepdim=True, unbiased=False)
        return (patches - mean) / (var + 1e-6).sqrt()

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, target: torch.Tensor | None = None
    ) -> MAEOutput:
        """`target` (shaped like x) replaces x as what the hidden patches are scored against, e.g. a residual."""
        tokenizer = self.encoder.tokenizer
        patches = tokenizer.patchify(x)
        coords = tokenizer.coordinates(tuple(x.shape[1:]))
        batch, tokens, _ = patches.shape
        if mask is None:
            mask = random_mask(batch, coords, self.config.mask_ratio, self.config.block_size)
        mask = mask.to(patches.device)
        hidden = int(mask[0].sum())
        if not bool((mask.sum(dim=1) == hidden).all()):
            raise HFMError("every sample of a batch must hide the same number of tokens")

        embedded = self.encoder.embed_patches(patches, coords.to(patches.device))
        # Stable sort puts visible tokens (False) first, each group in token order.
        order = mask.to(torch.int8).argsort(dim=1, stable=True)
        visible_idx = order[:, : tokens - hidden]
        visible = torch.gather(embedded, 1, visible_idx[..., None].expand(-1, -1, embedded.shape[-1]))
        encoded = self.encoder.trunk(visible)

        decoded = self.decoder_embed(encoded)
        full = self.mask_token.to(decoded.dtype).expand(batch, tokens, -1).clone()
        full.scatter_(1, visible_idx[..., None].expand(-1, -1, decoded.shape[-1]), decoded)
        positions = sincos_embedding(coords, self.config.decoder_width).to(full.device, full.dtype)
        prediction = self.decoder_pred(self.decoder(full + positions))

        wanted = patches if target is None else tokenizer.patchify(target)
        per_patch = (prediction.float() - self.targets(wanted.float())).pow(2).mean(dim=-1)
        loss = (per_patch * mask).sum() / mask.sum()
        return MAEOutput(loss=loss, prediction=prediction, mask=mask)

    def reconstruct(self, x: torch.Tensor, output: MAEOutput) -> torch.Tensor:
        """The prediction in data space: hidden patches predicted (de-normalised by each true patch's own mean and
        standard deviation when norm_targets, as for display), visible patches kept. (B, *data_shape)."""
        tokenizer = self.encoder.tokenizer
        patches = tokenizer.patchify(x).float()
        prediction = output.prediction.float()
        if self.config.norm_targets:
            mean = patches.mean(dim=-1, keepdim=True)
            std = (patches.var(dim=-1, keepdim=True, unbiased=False) + 1e-6).sqrt()
            prediction = prediction * std + mean
        merged = torch.where(output.mask[..., None], prediction, patches)
        return tokenizer.unpatchify(merged, tuple(x.shape[1:]))
