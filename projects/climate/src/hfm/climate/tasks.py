"""Train tasks for the shared trainer (declared in `plugin.py`): climate-mae, climate-forecast, climate-downscale.

Each takes the task section of a run config, parsed into its typed options (`MAEOptions`, `ForecastOptions`,
`DownscaleOptions`: an unknown key is refused with the allowed ones):

    task: {name: climate-forecast, dataset: runs/sst, history: 2, lead: 1, patch_lat: 2, patch_lon: 3,
           width: 64, depth: 2, heads: 4, init: runs/sst-mae/export}

`init` names an exported `climate-mae` artifact whose encoder (trunk included) initialises the head's encoder; for
the forecaster it may also name an exported forecaster, which is then fine-tuned whole (its base included).
`train_ranges: [[start, stop], ...]` (step indices) replaces the store's training period by a cross-validation
fold's: climatology and normalisation are refitted on it and windows are drawn from it only; `valid_ranges` is the
fold's validation block (the shared trainer's model selection, `validation.metric: rmse`). For the forecaster,
`base` (`persistence`, `damped`, `ridge` with `base_alpha`, `lim` with `base_modes`: the linear inverse model with
a damped EOF residual) is the linear forecast the head corrects, fitted on the training period; `spacing` is the
number of steps between history frames (default: the lead), so a 6 h forecaster can see the last three hours.
With `mode: interpolation`, `context` steps are seen beyond each end of the gap (the window includes them) and
`base: fitted` makes the network a correction to the least-squares linear interpolator of anomalies, fitted on the
training windows and saved with the weights (`baselines.interpolation.fit_gap_weights`; `line`: the straight line;
`pointwise`: those weights fitted point by point, shrunk toward the pooled ones, `fit_pointwise_weights`);
`radius: r` adds each seen step's mean over its (2r+1)^2 neighbourhood to the fitted base's inputs.
climate-mae streams a sharded dataset (`hfm climate curate --shard-size`) store by store (`hfm.climate.data`);
the forecaster and downscaler fit baselines on the whole training period and read unsharded stores only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfm.climate.baselines import (
    LinearInverseModel,
    NeighbourhoodRidge,
    damping_as_local,
    fit_damping,
    ridge_inits,
)
from hfm.climate.baselines.interpolation import fit_gap_weights, fit_pointwise_weights
from hfm.climate.data import (
    CorpusTiles,
    FieldData,
    Normaliser,
    StoreWindows,
    WindowsWithClimatology,
    climate_stream,
    window_starts,
)
from hfm.climate.experiments.folds import ranges_to_mask
from hfm.climate.metrics import lat_weights
from hfm.climate.models import FieldForecaster
from hfm.shared.artifacts import load_pretrained
from hfm.shared.errors import HFMError
from hfm.shared.models.loading import load_encoder
from hfm.shared.models.registry import create_model
from hfm.shared.options import parse_options
from hfm.shared.shard_layout import is_sharded
from hfm.shared.shard_loader import ShardStream

# What an `init` encoder may come from: any climate model on the shared trunk with the same tokenizer.
_ENCODERS = ("climate-mae", "climate-interpolator", "climate-forecaster", "climate-downscaler")


@dataclass(frozen=True)
class _StoreOptions:
    """The curated store, a fold's training period (`train_ranges`, step indices) and the trunk's shape."""

    dataset: Path
    train_ranges: list[list[int]] | None = None
    patch_lat: int = 4
    patch_lon: int = 4
    width: int = 64
    depth: int = 2
    heads: int = 4

    def arch(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("patch_lat", "patch_lon", "width", "depth", "heads")}


@dataclass(frozen=True)
class MAEOptions(_StoreOptions):
    window: int = 2
    mode: Literal["random", "interpolation"] = "random"
    mask_ratio: float = 0.75
    climatology_channel: bool = False  # interpolation: the climatology of every step as a seen forcing channel
    valid_ranges: list[list[int]] | None = None  # interpolation: the validation block (model selection)
    context: int = 0  # interpolation: steps seen beyond each end of the gap (the window includes them)
    # interpolation: the straight line, least squares on training windows pooled over points (`fitted`) or per
    # point shrunk toward the pooled fit (`pointwise`, `fit_pointwise_weights`)
    base: Literal["line", "fitted", "pointwise"] = "line"
    radius: int = 0  # interpolation, base fitted: the base also weighs each seen step's (2r+1)^2 neighbourhood mean
    correction: Literal["additive", "weights"] = "additive"  # interpolation: the network's output added to the base,
    # or as per-pixel coefficients on the base's inputs (`models.InterpolatingMAE`)


@dataclass(frozen=True)
class ForecastOptions(_StoreOptions):
    history: int = 2
    lead: int = 1
    spacing: int = 0  # steps between history frames; 0: the lead
    base: Literal["persistence", "damped", "ridge", "lim"] = "persistence"
    base_alpha: float = 0.01  # the ridge's penalty (base: ridge)
    base_modes: int | None = None  # the LIM's EOFs (base: lim)
    init: Path | None = None
    valid_ranges: list[list[int]] | None = None


@dataclass(frozen=True)
class DownscaleOptions(_StoreOptions):
    factor: int = 4
    init: Path | None = None


class _StoreTask:
    def __init__(self, options: _StoreOptions) -> None:
        self.options = options
        self.data = FieldData.load(options.dataset)
        if options.train_ranges:
            self.data = self.data.with_training(ranges_to_mask(options.train_ranges, self.data.hours.size))
        self.normaliser = Normaliser(self.data)
        self.variables = len(self.data.variables)

    def windows(self, window: int, period: str = "train") -> StoreWindows:
        starts = window_starts(self.data, window, period)
        if starts.size == 0:
            raise HFMError(f"{self.options.dataset}: no {period} window of {window} regular steps")
        return StoreWindows(self.options.dataset, starts, window, self.normaliser)


class ClimateMAETask(_StoreTask):
    """Masked token pretraining; `mode: interpolation` hides the inner time steps (temporal interpolation)."""

    def __init__(self, options: dict[str, Any]) -> None:
        typed = parse_options(MAEOptions, options, "task climate-mae")
        self.stream: ShardStream | None = None
        if is_sharded(typed.dataset):  # streamed store by store, the normalisation fitted by streaming
            if typed.train_ranges or typed.valid_ranges or typed.climatology_channel:
                raise HFMError(
                    f"task climate-mae: train_ranges, valid_ranges and climatology_channel need an unsharded "
                    f"dataset; {typed.dataset} is sharded"
                )
            self.options = typed
            self.stream, self.variables = climate_stream(typed.dataset, typed.window)
        else:
            super().__init__(typed)
        self.window, self.mode = self.options.window, self.options.mode
        self.context = self.options.context
        if self.mode == "interpolation" and self.window < 3 + 2 * self.context:
            raise HFMError(f"task.window: interpolation with {self.context} context step(s) on each side needs at "
                           f"least {3 + 2 * self.context} steps (seen, hidden, seen)")  # fmt: skip
        interpolation_only = (
            self.options.climatology_channel
            or self.options.valid_ranges
            or self.context
            or self.options.correction != "additive"
        )
        if self.mode == "random" and (interpolation_only or self.options.base != "line"):
            raise HFMError("task climate-mae: climatology_channel, valid_ranges, context, base and correction need "
                           "mode 'interpolation'")  # fmt: skip
        if self.options.radius and self.options.base == "line":
            raise HFMError("task climate-mae: radius (a neighbourhood in the base) needs base 'fitted' or 'pointwise'")
        if self.stream is not None and (self.context or self.options.base != "line"):
            raise HFMError(f"task climate-mae: context and base need an unsharded dataset; {typed.dataset} is sharded")

    def build_model(self) -> nn.Module:
        if self.mode == "random":
            return create_model("climate-mae", variables=self.variables, mask_ratio=self.options.mask_ratio,
                                **self.options.arch())  # fmt: skip
        # a window-specific base (context steps, fitted weights) is a buffer sized by the window; the plain line is not
        weights = self.options.correction != "additive"
        sized = self.context or self.options.base != "line" or weights
        layout = {"window": self.window, "context": self.context} if sized else {}
        layout |= {"radius": self.options.radius} if self.options.radius else {}
        layout |= {"correction": self.options.correction} if weights else {}
        if self.options.base == "pointwise":  # a per-point base is sized by the store's grid
            layout |= {"grid_lat": int(self.data.fields.shape[-2]), "grid_lon": int(self.data.fields.shape[-1])}
        model = create_model("climate-interpolator", variables=self.variables, mask_ratio=self.options.mask_ratio,
                             climatology_channel=self.options.climatology_channel, **layout,
                             **self.options.arch())  # fmt: skip
        if self.options.base != "line":  # least squares on the training windows (anomalies; linear, so valid in z)
            starts = window_starts(self.data, self.window, "train")
            anomalies = self.data.anomalies()
            weights = fit_gap_weights(anomalies, starts, self.window, self.context, self.options.radius)
            if self.options.base == "pointwise":  # fitted on anomalies as the baseline is (the ridge is not scale-free)
                weights = fit_pointwise_weights(anomalies, starts, self.window, self.context, self.options.radius,
                                                weights)  # fmt: skip
            with torch.no_grad():
                model.base_weights.copy_(torch.from_numpy(weights))
        return model

    def windows(self, window: int, period: str = "train") -> StoreWindows:
        windows = super().windows(window, period)
        if self.options.climatology_channel:
            return WindowsWithClimatology(self.options.dataset, windows.starts, window, self.normaliser)
        return windows

    def train_dataset(self) -> StoreWindows | ShardStream:
        return self.stream if self.stream is not None else self.windows(self.window)

    def validation_dataset(self) -> StoreWindows | None:
        """With `valid_ranges`: the windows lying wholly in the validation block (the shared trainer's model
        selection by `evaluate`'s RMSE)."""
        if not self.options.valid_ranges:
            return None
        valid = ranges_to_mask(self.options.valid_ranges, self.data.hours.size)
        starts = self.data.pairs_into(self.window - 1, valid)
        starts = starts[np.all(valid[starts[:, None] + np.arange(self.window)], axis=1)]
        if starts.size == 0:
            raise HFMError(f"task.valid_ranges: no window of {self.window} regular steps lies in the validation block")
        kind = WindowsWithClimatology if self.options.climatology_channel else StoreWindows
        return kind(self.options.dataset, starts, self.window, self.normaliser)

    def _mask(self, model: nn.Module, batch: torch.Tensor) -> torch.Tensor | None:
        return model.hidden_mask(tuple(batch.shape[1:]), batch.shape[0]) if self.mode == "interpolation" else None

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches) -> dict[str, float]:
        """`rmse`: the latitude-weighted RMSE (field units) of the hidden steps of each validation window, per step
        then averaged over the window's hidden steps and over windows, as the benchmark scores them."""
        v = self.variables
        defined = torch.from_numpy(~np.isnan(self.data.fields).all(axis=0)).float()  # (V, H, W): land left out
        w = torch.from_numpy(lat_weights(self.data.lat)).float()[:, None] * defined
        scale = torch.from_numpy(self.normaliser.scale.reshape(-1, 1, 1)).float()
        rmses = []
        for batch in batches:
            filled = model.reconstruct(batch, model(batch, self._mask(model, batch)))
            hidden = slice(self.context + 1, self.window - 1 - self.context)
            error2 = ((filled - batch)[:, hidden, :v] * scale) ** 2  # (B, hidden, V, H, W)
            rmses.append(((error2 * w).sum((-2, -1)) / w.sum((-2, -1))).sqrt().mean((1, 2)))
        return {"rmse": float(torch.cat(rmses).mean())}

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        out = model(batch, self._mask(model, batch))
        return out.loss, {"mse_masked": float(out.loss.detach())}


class ClimateForecastTask(_StoreTask):
    """`history` inputs `lead` steps apart -> the field `lead` steps after the last (one base lead)."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(parse_options(ForecastOptions, options, "task climate-forecast"))
        self.history, self.lead = self.options.history, self.options.lead
        self.spacing = self.options.spacing or self.lead
        self.base = self.options.base
        if self.base == "lim" and self.options.base_modes is None:
            raise HFMError("task climate-forecast: option 'base_modes' is required with base 'lim'")

    def lags(self) -> tuple[int, ...]:
        return tuple(k * self.spacing for k in range(self.history))

    def build_model(self) -> nn.Module:
        kind = {"persistence": "persistence", "damped": "local", "ridge": "local", "lim": "global"}[self.base]
        grid = {"grid_lat": self.data.lat.size, "grid_lon": self.data.lon.size} if kind != "persistence" else {}
        model = create_model(
            "climate-forecaster",
            variables=self.variables,
            history=self.history,
            base=kind,
            spacing=self.spacing,
            **grid,
            **self.options.arch(),
        )
        init = self.options.init
        source = load_pretrained(init)[0] if init is not None else None
        if isinstance(source, FieldForecaster):  # fine-tuning a forecaster (transfer): encoder, head and its base
            if source.base != kind or source.state_dict().keys() != model.state_dict().keys():
                raise HFMError(f"task.init: {init} is a forecaster with base {source.base!r}, "
                               f"not {kind!r} on this grid")  # fmt: skip
            model.load_state_dict(source.state_dict())
            return model
        if kind != "persistence":
            with torch.no_grad():
                buffer = model.base_matrix if kind == "global" else model.base_coef
                buffer.copy_(torch.from_numpy(self.base_coefficients()))
        if init is not None:
            load_encoder(model, init, expected=_ENCODERS)
        return model

    def base_coefficients(self) -> np.ndarray:
        """The base forecast's buffer, fitted on the training period (in anomalies; linear, so valid in z)."""
        anomalies, train = self.data.anomalies(), self.data.pairs(self.lead, "train")
        if self.base == "damped":
            return damping_as_local(fit_damping(anomalies, self.lead, train), self.history)
        if self.base == "ridge":
            inits = ridge_inits(self.data.is_train, train, self.lags())
            alpha = self.options.base_alpha
            return NeighbourhoodRidge(anomalies, inits, self.lead, self.lags(), alpha).coef.astype("float32")
        # the LIM with its EOF residual damped: never worse than damped persistence on what the EOFs leave out
        modes = self.options.base_modes
        lim = LinearInverseModel(anomalies, self.data.lat, self.data.pairs(1, "train"), modes, residual_damping=True)
        return lim.operator(self.lead)

    def window(self) -> int:
        return (self.history - 1) * self.spacing + self.lead + 1

    def train_dataset(self) -> StoreWindows:
        return self.windows(self.window())

    def validation_dataset(self) -> StoreWindows | None:
        """With `valid_ranges` (a fold's validation block): the windows whose target lies in it (for the shared
        trainer's model selection); their inputs may precede the block, as a forecast's do."""
        if not self.options.valid_ranges:
            return None
        valid = ranges_to_mask(self.options.valid_ranges, self.data.hours.size)
        starts = self.data.pairs_into(self.window() - 1, valid)
        if starts.size == 0:
            raise HFMError(f"task.valid_ranges: no window of {self.window()} steps ends in the validation block")
        return StoreWindows(self.options.dataset, starts, self.window(), self.normaliser)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, batches) -> dict[str, float]:
        """`rmse`: the latitude-weighted RMSE of each validation forecast in the field's unit (cells undefined at
        every step, land in SST, left out), averaged over forecasts, as the benchmark scores them; `loss`: the MSE
        in standardised anomalies."""
        weights = torch.from_numpy(lat_weights(self.data.lat)).float()[:, None]
        defined = torch.from_numpy(~np.isnan(self.data.fields).all(axis=0)).float()  # (V, H, W)
        scale = torch.from_numpy(self.normaliser.scale.reshape(-1, 1, 1)).float()
        rmses, losses = [], []
        for batch in batches:
            inputs = batch[:, : (self.history - 1) * self.spacing + 1 : self.spacing]
            prediction = model(inputs)
            error2 = ((prediction - batch[:, -1]) * scale) ** 2
            w = weights * defined
            rmses.append(((error2 * w).sum((-2, -1)) / w.sum((-2, -1))).sqrt().mean(1))
            losses.append(F.mse_loss(prediction, batch[:, -1], reduction="none").mean((1, 2, 3)))
        return {"rmse": float(torch.cat(rmses).mean()), "loss": float(torch.cat(losses).mean())}

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        inputs = batch[:, : (self.history - 1) * self.spacing + 1 : self.spacing]
        prediction = model(inputs)
        loss = F.mse_loss(prediction, batch[:, -1])
        return loss, {"mse": float(loss.detach())}


def coarsen(z: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, V, H, W) -> fine field cropped to multiples of `factor` and its block means (B, V, H/f, W/f)."""
    h, w = (z.shape[-2] // factor) * factor, (z.shape[-1] // factor) * factor
    fine = z[..., :h, :w]
    return fine, F.avg_pool2d(fine, factor)


def upsample(coarse: torch.Tensor, factor: int, mode: str) -> torch.Tensor:
    return F.interpolate(coarse, scale_factor=factor, mode=mode, align_corners=False)


class ClimateDownscaleTask(_StoreTask):
    """The field block-averaged `factor` x `factor`, interpolated bicubically back, -> the fine field."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(parse_options(DownscaleOptions, options, "task climate-downscale"))
        self.factor = self.options.factor

    def build_model(self) -> nn.Module:
        model = create_model("climate-downscaler", variables=self.variables, **self.options.arch())
        if self.options.init is not None:  # every encoder weight from the file, as the forecaster's
            load_encoder(model, self.options.init, expected=_ENCODERS)
        return model

    def train_dataset(self) -> StoreWindows:
        return self.windows(1)

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        fine, coarse = coarsen(batch[:, 0], self.factor)
        loss = F.mse_loss(model(upsample(coarse, self.factor, "bicubic")), fine)
        return loss, {"mse": float(loss.detach())}


@dataclass(frozen=True)
class CorpusOptions:
    datasets: list[Path]
    tile: int = 16
    mask_ratio: float = 0.75
    patch_lat: int = 4
    patch_lon: int = 4
    width: int = 64
    depth: int = 2
    heads: int = 4


class ClimateCorpusMAETask:
    """Masked token pretraining of one trunk on the tiles of every store of a corpus (`CorpusTiles`): its encoder
    then initialises any climate model with the same patch size and width (`init`). Every tile has one channel
    (variable id 0, as a one-variable downstream model sees its field): what is shared across variables is the
    spatial structure of smooth geophysical fields, not a variable's identity."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = parse_options(CorpusOptions, options, "task climate-corpus-mae")
        if not self.options.datasets:
            raise HFMError("task climate-corpus-mae: option 'datasets' names no curated store")

    def build_model(self) -> nn.Module:
        o = self.options
        arch = {"patch_lat": o.patch_lat, "patch_lon": o.patch_lon, "width": o.width, "depth": o.depth}
        return create_model("climate-mae", variables=1, mask_ratio=o.mask_ratio, heads=o.heads, **arch)

    def train_dataset(self) -> CorpusTiles:
        return CorpusTiles([Path(p) for p in self.options.datasets], self.options.tile)

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        out = model(batch)
        return out.loss, {"mse_masked": float(out.loss.detach())}
