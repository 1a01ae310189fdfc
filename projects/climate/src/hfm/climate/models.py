"""Climate models on the shared trunk, registered by name so an exported artifact rebuilds from JSON.

- `climate-mae`: masked token pretraining over (time, variable, lat, lon) patches; with a mask that hides whole
  time steps it is the temporal interpolation model.
- `climate-forecaster`: `history` steps in, the next step out (one base lead); longer leads by autoregressive
  rollout. Predicts the change of the standardised anomaly per patch, so an untrained head is anomaly persistence.
- `climate-downscaler`: a coarse field interpolated bicubically to the fine grid in, the fine field out (a learned
  residual on top of bicubic).
- `climate-interpolator`: the masked token model for temporal interpolation, predicting the
  hidden steps of a gap as a residual on a linear base (in standardised anomalies): the straight line between the
  gap's ends, or least-squares weights on the seen steps (the ends and `context` steps beyond each) fitted by the
  task; its output layer starts at zero, so an untrained model is its base, and with `climatology_channel` it also
  sees the training climatology of every step of the window (the diurnal cycle: where in the day the gap lies).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfm.climate.baselines.interpolation import gap_layout, line_weights
from hfm.climate.tokenizer import FieldTokenizer
from hfm.shared.errors import HFMError
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.mae import MAEConfig, MAEOutput, MaskedAutoencoder
from hfm.shared.models.registry import PretrainedConfig, register_model
from hfm.shared.models.trunk import TrunkConfig


def _encoder(variables: int, patch_lat: int, patch_lon: int, width: int, depth: int, heads: int) -> TokenEncoder:
    return TokenEncoder(FieldTokenizer(variables, 1, patch_lat, patch_lon), TrunkConfig(width, depth, heads))


class PatchHead(nn.Module):
    """Encoder tokens of the last time step -> one field (B, V, H, W) added to `base`; zero-initialised."""

    def __init__(self, encoder: TokenEncoder) -> None:
        super().__init__()
        self.encoder = encoder
        tokenizer: FieldTokenizer = encoder.tokenizer
        self.head = nn.Linear(encoder.width, tokenizer.patch_lat * tokenizer.patch_lon)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def field_from_tokens(self, x: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        tokens = self.encoder(x)  # (B, N, width), time-major order: the last frame's tokens come last
        tokenizer: FieldTokenizer = self.encoder.tokenizer
        _, nh, nw = tokenizer.grid((1, *x.shape[2:]))
        last = tokens[:, -tokenizer.variables * nh * nw :]
        delta = tokenizer.unpatchify(self.head(last), (1, *x.shape[2:]))[:, 0]
        return base + delta


def neighbourhood_features(frames: torch.Tensor) -> torch.Tensor:
    """(B, L, V, H, W) frames, newest last -> (B, V*H*W, 9*L) features: for each lag (newest first) the 3 x 3
    neighbourhood of every point, edges repeated (the layout `baselines.NeighbourhoodRidge` fits)."""
    b, lags, v, h, w = frames.shape
    padded = torch.nn.functional.pad(frames.flip(1).reshape(b, lags * v, h, w), (1, 1, 1, 1), mode="replicate")
    shifted = [padded[..., i : i + h, j : j + w] for i in range(3) for j in range(3)]
    stacked = torch.stack(shifted, dim=-1).reshape(b, lags, v, h, w, 9)  # lag-major, then offsets
    return stacked.permute(0, 2, 3, 4, 1, 5).reshape(b, v * h * w, lags * 9)


class FieldForecaster(PatchHead):
    """`history` frames `spacing` steps apart in, the field one base lead after the last out.

    The zero-initialised head adds a correction to a linear base forecast whose coefficients are buffers, fitted on
    the training period by the task and saved with the weights: `persistence` (no buffer), `local` (per point, a
    linear map of the 3 x 3 neighbourhood at every history frame: damped persistence and the ridge autoregression are
    such maps) or `global` (a matrix on the last frame: the linear inverse model). The model starts as that baseline
    and only has to learn what it misses.
    """

    def __init__(
        self,
        encoder: TokenEncoder,
        history: int,
        grid: tuple[int, int] | None = None,
        base: str = "persistence",
        spacing: int = 0,
    ) -> None:
        super().__init__(encoder)
        self.history, self.base, self.spacing = history, base, spacing
        points = encoder.tokenizer.variables * grid[0] * grid[1] if grid else 0
        if base == "local":
            self.register_buffer("base_coef", torch.zeros(points, 9 * history))
        elif base == "global":
            self.register_buffer("base_matrix", torch.zeros(points, points))
        elif base != "persistence":
            raise ValueError(f"base: 'persistence', 'local' or 'global', got {base!r}")
        if base != "persistence" and not grid:
            raise ValueError(f"base {base!r} needs the grid (grid_lat, grid_lon)")

    def base_forecast(self, x: torch.Tensor) -> torch.Tensor:
        last = x[:, -1]
        if self.base == "local":
            features = neighbourhood_features(x)
            return (features * self.base_coef).sum(-1).reshape(last.shape)
        if self.base == "global":
            return (last.reshape(last.shape[0], -1) @ self.base_matrix).reshape(last.shape)
        return last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, history, V, H, W) standardised anomalies -> (B, V, H, W) one base lead later."""
        return self.field_from_tokens(x, self.base_forecast(x))

    @torch.no_grad()
    def rollout(self, x: torch.Tensor, steps: int) -> torch.Tensor:
        """(B, history, V, H, W) -> (B, steps, V, H, W): each prediction becomes the newest input (only meaningful
        when the frames are one base lead apart)."""
        outputs = []
        for _ in range(steps):
            nxt = self(x)
            outputs.append(nxt)
            x = torch.cat([x[:, 1:], nxt[:, None]], dim=1)
        return torch.stack(outputs, dim=1)


class FieldDownscaler(PatchHead):
    def forward(self, upsampled: torch.Tensor) -> torch.Tensor:
        """(B, V, H, W) coarse field interpolated to the fine grid -> (B, V, H, W) fine field."""
        return self.field_from_tokens(upsampled[:, None], upsampled)


class InterpolatingMAE(MaskedAutoencoder):
    """Temporal interpolation: the seen steps of a window (`gap_layout`) in, the hidden ones predicted as a
    correction to a linear base. Rebuilding whole hidden hours from mask tokens, as the plain masked model did, lost
    to linear interpolation by a factor of two on ERA5; the residual starts from the base and learns what it misses.
    The output layer starts at zero: an untrained model is exactly the base, so selecting step 0 on validation
    falls back to it.

    `window` 0 (the default): the straight line between the first and last step, for any window length. With
    `window` > 0 the base is the buffer `base_weights` (hidden, seen), the straight line until a task copies
    fitted weights into it (`fit_gap_weights`); it is saved with the weights. `context`: steps seen beyond each end.
    `radius` > 0: the base also weighs each seen step's neighbourhood mean less the point (`gap_features`), so its
    buffer is (hidden, 2 seen). `grid` (lat, lon): the base's weights differ from point to point
    (`fit_pointwise_weights`), a buffer (variables, lat, lon, hidden, features) for that grid only.
    `target_variables`: the first channels are the fields; any further channels are forcings seen at every step
    (the standardised climatology, `data.with_climatology`), never hidden and never scored.
    `correction` 'additive' (the default): the decoder's output is added to the base. 'weights': the decoder
    outputs, per hidden token and pixel, one coefficient per base input (and a constant), and the correction is
    their dot product with that pixel's base inputs (`FeatureWeightHead`): the network adjusts the base's
    weights locally and by the state of the window, which one pooled least-squares fit cannot.
    """

    def __init__(
        self,
        encoder: TokenEncoder,
        config: MAEConfig,
        target_variables: int | None = None,
        window: int = 0,
        context: int = 0,
        radius: int = 0,
        correction: str = "additive",
        grid: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(encoder, config)
        self.target_variables = target_variables or encoder.tokenizer.variables
        self.window, self.context, self.radius = window, context, radius
        if (context or radius) and not window:
            raise ValueError("context steps and a neighbourhood radius need the window length (window > 0)")
        if correction not in ("additive", "weights"):
            raise ValueError(f"correction must be 'additive' or 'weights', got {correction!r}")
        if correction == "weights" and not window:
            raise ValueError("a correction of the base's weights needs the window length (window > 0)")
        if grid is not None and not window:
            raise ValueError("a per-point base needs the window length (window > 0)")
        self.correction = correction
        if window:
            seen, hidden = gap_layout(window, context)
            self.seen_index, self.hidden_index = seen.tolist(), hidden.tolist()
            line = line_weights(window, context)
            if radius:  # the line weighs no neighbourhood until a fit says otherwise
                line = np.concatenate([line, np.zeros_like(line)], axis=1)
            if grid is not None:  # the same line at every point until a per-point fit is copied in
                line = np.broadcast_to(line, (self.target_variables, *grid, *line.shape)).copy()
            self.register_buffer("base_weights", torch.from_numpy(line).float())
            if correction == "weights":  # one coefficient per base input and a constant, per pixel of a token
                pixels = self.decoder_pred.out_features
                self.decoder_pred = FeatureWeightHead(config.decoder_width, pixels, line.shape[-1] + 1)
        nn.init.zeros_(self.decoder_pred.weight)
        nn.init.zeros_(self.decoder_pred.bias)

    def hidden_mask(self, data_shape: tuple[int, ...], batch: int) -> torch.Tensor:
        """The hidden steps of the field channels; the seen steps and every forcing channel stay visible."""
        return interpolation_mask(self.encoder.tokenizer, data_shape, batch, self.target_variables, self.context)

    def base(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) -> the base at every step: the seen steps as they are, the hidden ones filled linearly."""
        if not self.window:
            return self.linear(x)
        if x.shape[1] != self.window:
            raise ValueError(f"the interpolator was built for windows of {self.window} steps, got {x.shape[1]}")
        out = x.clone()
        weights = self.base_weights.to(x.dtype)
        if weights.dim() == 2:  # pooled: every channel filled alike (forcing channels are never hidden)
            out[:, self.hidden_index] = torch.einsum("kf,bf...->bk...", weights, self.base_inputs(x))
        else:  # per point: the field channels only; the forcings pass through
            v = self.target_variables
            if weights.shape[1:3] != x.shape[-2:]:
                raise ValueError(f"the per-point base was fitted on a {tuple(weights.shape[1:3])} grid, got "
                                 f"{tuple(x.shape[-2:])}")  # fmt: skip
            filled = torch.einsum("vhwkf,bfvhw->bkvhw", weights, self.base_inputs(x)[:, :, :v])
            out[:, self.hidden_index, :v] = filled
        return out

    def base_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) window -> (B, F, C, H, W) what the base weighs, as `gap_features`: the seen steps, and
        with a radius their neighbourhood means less the point."""
        features = x[:, self.seen_index]
        if self.radius:
            features = torch.cat([features, _neighbourhood_mean(features, self.radius) - features], dim=1)
        return features

    def token_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) -> (B, tokens, pixels, F + 1): each token's pixels' base inputs and a constant, in the
        tokenizer's order (every step of the window sees the same inputs; only the hidden tokens use them)."""
        features = self.base_inputs(x)
        features = torch.cat([features, torch.ones_like(features[:, :1])], dim=1)
        batch, count = features.shape[:2]
        spread = features[:, :, None].expand(batch, count, x.shape[1], *x.shape[2:])
        patches = self.encoder.tokenizer.patchify(spread.reshape(batch * count, *x.shape[1:]))
        return patches.reshape(batch, count, *patches.shape[1:]).permute(0, 2, 3, 1)

    @staticmethod
    def linear(x: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) -> the straight line in time between x[:, 0] and x[:, -1], at every step."""
        steps = x.shape[1]
        w = torch.linspace(0, 1, steps, dtype=x.dtype, device=x.device).view(1, steps, *([1] * (x.dim() - 2)))
        return x[:, :1] * (1 - w) + x[:, -1:] * w

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, target: torch.Tensor | None = None
    ) -> MAEOutput:
        if self.correction != "weights":
            return super().forward(x, mask, (x if target is None else target) - self.base(x))
        self.decoder_pred.inputs = self.token_inputs(x)
        try:
            return super().forward(x, mask, (x if target is None else target) - self.base(x))
        finally:
            self.decoder_pred.inputs = None  # never kept between calls (nor saved: it is no buffer)

    def reconstruct(self, x: torch.Tensor, output: MAEOutput) -> torch.Tensor:
        tokenizer = self.encoder.tokenizer
        base = tokenizer.patchify(self.base(x)).float()
        merged = torch.where(output.mask[..., None], base + output.prediction.float(), tokenizer.patchify(x).float())
        return tokenizer.unpatchify(merged, tuple(x.shape[1:]))


class FeatureWeightHead(nn.Linear):
    """The output layer of a weights correction: decoder tokens -> per pixel one coefficient per base input, whose
    dot product with that pixel's inputs (`inputs`, set by `InterpolatingMAE.forward` for one call) is the
    correction. Linear in its weight and bias, so zeroing them leaves the base and scaling them scales the
    correction, as for the additive output layer."""

    def __init__(self, width: int, pixels: int, features: int) -> None:
        super().__init__(width, pixels * features)
        self.pixels, self.features = pixels, features
        self.inputs: torch.Tensor | None = None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.inputs is None:
            raise HFMError("FeatureWeightHead: the base inputs of the window were not set (call the model itself)")
        coefficients = super().forward(tokens).reshape(*tokens.shape[:-1], self.pixels, self.features)
        return (coefficients * self.inputs.to(coefficients.dtype)).sum(dim=-1)


class InterpolatorEnsemble(nn.Module):
    """Interpolators on one base (the seeds of one fold): the gap filled by the mean of their fillings, so the base
    plus the mean of their corrections. Called and reconstructed as one `InterpolatingMAE` is (`forward` gives each
    member's output, `reconstruct` averages); each member is exported as its own artifact."""

    def __init__(self, members: Sequence[InterpolatingMAE]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)

    @property
    def encoder(self) -> TokenEncoder:  # the tokenizer (and its channels) is the members' own
        return self.members[0].encoder

    @property
    def context(self) -> int:
        return self.members[0].context

    @property
    def radius(self) -> int:
        return self.members[0].radius

    def hidden_mask(self, data_shape: tuple[int, ...], batch: int) -> torch.Tensor:
        return self.members[0].hidden_mask(data_shape, batch)

    def base(self, x: torch.Tensor) -> torch.Tensor:
        return self.members[0].base(x)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> list[MAEOutput]:
        return [member(x, mask) for member in self.members]

    def reconstruct(self, x: torch.Tensor, outputs: list[MAEOutput]) -> torch.Tensor:
        filled = [member.reconstruct(x, out) for member, out in zip(self.members, outputs, strict=True)]
        return torch.stack(filled).mean(dim=0)


def _neighbourhood_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """`baselines.interpolation.neighbourhood_mean` in torch: (..., H, W), the edges repeated beyond the grid."""
    size = 2 * radius + 1
    flat = x.reshape(-1, 1, *x.shape[-2:])
    padded = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    return F.avg_pool2d(padded, size, stride=1).reshape(x.shape)


def _mae_config(mask_ratio: float) -> MAEConfig:
    """The decoder and targets of both masked models: raw anomalies (already standardised), a light decoder."""
    return MAEConfig(mask_ratio=mask_ratio, norm_targets=False, decoder_width=32, decoder_depth=1, decoder_heads=4)


_INFO = "standardised anomalies (time, variable, lat, lon) from an hfm climate store"


def _masked_model(kind: type[MaskedAutoencoder]) -> Callable[..., MaskedAutoencoder]:
    """The factory of a masked model on the climate tokenizer; both masked models share every argument, and
    `climatology_channel` (one more seen channel per variable: each step's standardised climatology), `window`,
    `context` and `radius` (the gap's layout and a linear base sized by it, `InterpolatingMAE`) and `grid_lat`,
    `grid_lon` (a per-point base on that grid) are the interpolator's only."""

    def build(
        variables: int = 1,
        patch_lat: int = 4,
        patch_lon: int = 4,
        width: int = 64,
        depth: int = 2,
        heads: int = 4,
        mask_ratio: float = 0.75,
        climatology_channel: bool = False,
        window: int = 0,
        context: int = 0,
        radius: int = 0,
        correction: str = "additive",
        grid_lat: int = 0,
        grid_lon: int = 0,
    ) -> MaskedAutoencoder:
        channels = variables * (2 if climatology_channel else 1)
        encoder = _encoder(channels, patch_lat, patch_lon, width, depth, heads)
        grid = (grid_lat, grid_lon) if grid_lat > 0 and grid_lon > 0 else None
        if kind is InterpolatingMAE:
            config = _mae_config(mask_ratio)
            return InterpolatingMAE(encoder, config, variables, window=window, context=context, radius=radius,
                                    correction=correction, grid=grid)  # fmt: skip
        if climatology_channel or window or context or radius or correction != "additive" or grid:
            raise HFMError(
                "climate-mae: climatology_channel, window, context, radius, correction and grid_lat/grid_lon are "
                "the interpolator's (climate-interpolator)"
            )
        return kind(encoder, _mae_config(mask_ratio))

    return build


climate_mae = register_model(
    "climate-mae",
    PretrainedConfig("climate-mae", "mae", "climate", "masked token pretraining on gridded fields", _INFO),
)(_masked_model(MaskedAutoencoder))
climate_interpolator = register_model(
    "climate-interpolator",
    PretrainedConfig("climate-interpolator", "mae", "climate", "temporal interpolation as a residual on linear", _INFO),
)(_masked_model(InterpolatingMAE))


@register_model(
    "climate-forecaster",
    PretrainedConfig("climate-forecaster", "encoder", "climate", "next-step forecaster with rollout", _INFO),
)
def climate_forecaster(
    variables: int = 1,
    history: int = 2,
    patch_lat: int = 4,
    patch_lon: int = 4,
    width: int = 64,
    depth: int = 2,
    heads: int = 4,
    grid_lat: int = 0,
    grid_lon: int = 0,
    base: str = "persistence",
    spacing: int = 0,
) -> FieldForecaster:
    """`base` 'local' or 'global' with the grid size: a residual on a linear baseline (see `FieldForecaster`);
    `spacing` the steps between history frames (0: the base lead)."""
    grid = (grid_lat, grid_lon) if grid_lat > 0 and grid_lon > 0 else None
    encoder = _encoder(variables, patch_lat, patch_lon, width, depth, heads)
    return FieldForecaster(encoder, history, grid, base, spacing)


@register_model(
    "climate-downscaler",
    PretrainedConfig("climate-downscaler", "encoder", "climate", "coarse-to-fine residual on bicubic", _INFO),
)
def climate_downscaler(
    variables: int = 1, patch_lat: int = 4, patch_lon: int = 4, width: int = 64, depth: int = 2, heads: int = 4
) -> FieldDownscaler:
    return FieldDownscaler(_encoder(variables, patch_lat, patch_lon, width, depth, heads))


def interpolation_mask(
    tokenizer: FieldTokenizer,
    data_shape: tuple[int, ...],
    batch: int,
    target_variables: int | None = None,
    context: int = 0,
) -> torch.Tensor:
    """Hide every token of the hidden steps (all but the first and last `context` + 1) of the first
    `target_variables` channels when given (the rest are forcings seen at every step)."""
    coords = tokenizer.coordinates(data_shape)
    t = coords[:, 0].long()
    inner = (t > context) & (t < int(t.max()) - context)
    if target_variables is not None:
        inner &= coords[:, 1] < target_variables
    return inner[None, :].expand(batch, -1).clone()
