"""The steps behind the CLI: train (pretrain / fine-tune) through the shared trainer, export, forecast, evaluate.

Forecasts are written with init time and lead time as separate dimensions and the valid time as a 2-D coordinate
(`valid_time = init_time + lead_time`), so nobody has to guess which time a field belongs to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from hfm.climate.data import Normaliser
from hfm.climate.evaluation import FieldData, Forecaster
from hfm.climate.metrics import rmse
from hfm.climate.models import FieldDownscaler, FieldForecaster, interpolation_mask
from hfm.climate.tasks import coarsen, upsample
from hfm.shared.artifacts import DataCardReference, ModelCard, export_model, load_pretrained
from hfm.shared.errors import HFMError
from hfm.shared.train.config import Config
from hfm.shared.train.task import build_task
from hfm.shared.train.trainer import Trainer

_PURPOSE = {
    "climate-mae": "masked token pretraining on gridded fields (temporal interpolation with mode=interpolation)",
    "climate-forecast": "forecasting gridded fields at a base lead, longer leads by autoregressive rollout",
    "climate-downscale": "downscaling a 4x coarser field to the native grid",
}


def train_and_export(
    task: str,
    options: dict[str, Any],
    out_dir: str | Path,
    *,
    steps: int = 200,
    batch_size: int = 16,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
    metrics: dict[str, float] | None = None,
) -> Path:
    """Train `task` with the shared trainer in `out_dir/run`, export the model to `out_dir/model`; returns it."""
    out_dir = Path(out_dir)
    config = Config.short_run(
        out_dir / "run",
        task,
        options,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        weight_decay=0.01,
        warmup_steps=min(20, steps // 10),
    )
    train_task = build_task(task, options)
    trainer = Trainer(config, train_task)
    result = trainer.fit()
    model = trainer.raw_model
    card = ModelCard(
        name=f"{task}-{Path(options['dataset']).name}",
        description=_PURPOSE[task],
        intended_use=_PURPOSE[task] + "; research use on the curated dataset's grid and variables",
        limitations="trained briefly on one small grid; not a general weather model; inputs must be standardised "
        "anomalies against the same dataset's training climatology",
        data=[DataCardReference.from_dataset(options["dataset"])],
        training={
            "task": options,
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "seed": seed,
            "samples_per_s": result.samples_per_s,
        },
        metrics=metrics or {},
    )
    return export_model(model, out_dir / "model", {"task": options}, card)


def load_model(path: str | Path) -> torch.nn.Module:
    model, _ = load_pretrained(path)
    return model.eval()


def _history_indices(init: np.ndarray, history: int, lead: int) -> np.ndarray:
    """(N, history) step indices ending at each init, `lead` apart (clipped at the first step)."""
    offsets = np.arange(-(history - 1), 1) * lead
    return np.clip(init[:, None] + offsets[None, :], 0, None)


def model_forecaster(model: FieldForecaster, data: FieldData, normaliser: Normaliser, base_lead: int) -> Forecaster:
    """Wrap a forecaster for `evaluate`: lead must be a multiple of the model's base lead (rollout)."""

    spacing = getattr(model, "spacing", 0) or base_lead

    def forecast(_: np.ndarray, init: np.ndarray, lead: int) -> np.ndarray:
        if lead % base_lead:
            raise HFMError(f"lead {lead} is not a multiple of the model's base lead {base_lead}")
        if lead != base_lead and spacing != base_lead:
            raise HFMError(f"lead {lead}: rollout needs history frames one base lead apart (spacing {spacing})")
        idx = _history_indices(init, model.history, spacing)
        z = normaliser.to_z(data.fields[idx.ravel()], idx.ravel()).reshape(*idx.shape, *data.fields.shape[1:])
        with torch.no_grad():
            out = model.rollout(torch.from_numpy(z), lead // base_lead)[:, -1].numpy()
        physical = normaliser.from_z(out, init + lead)
        return np.where(np.isnan(data.fields[init]), np.nan, physical)  # land stays land

    return forecast


def write_forecast(
    model: FieldForecaster,
    data: FieldData,
    normaliser: Normaliser,
    base_lead: int,
    init: np.ndarray,
    rollout_steps: int,
    path: str | Path,
) -> xr.Dataset:
    """Forecast from each init for 1..rollout_steps base leads; write CF netCDF (.nc) or zarr (.zarr)."""
    idx = _history_indices(init, model.history, getattr(model, "spacing", 0) or base_lead)
    z = normaliser.to_z(data.fields[idx.ravel()], idx.ravel()).reshape(*idx.shape, *data.fields.shape[1:])
    with torch.no_grad():
        out = model.rollout(torch.from_numpy(z), rollout_steps).numpy()  # (N, L, V, H, W)
    leads_steps = np.arange(1, rollout_steps + 1) * base_lead
    physical = np.stack(
        [
            normaliser.from_z(out[:, k], np.minimum(init + s, data.fields.shape[0] - 1))
            for k, s in enumerate(leads_steps)
        ],
        axis=1,
    )
    physical = np.where(np.isnan(data.fields[init])[:, None], np.nan, physical)
    init_time = data.times.values[init]
    lead_time = (leads_steps * data.step).astype("float64")
    ds = xr.Dataset(
        {
            name: (
                ("init_time", "lead_time", "lat", "lon"),
                physical[:, :, v].astype("float32"),
                {"units": data.units[v], "long_name": f"{name} forecast"},
            )
            for v, name in enumerate(data.variables)
        },
        coords={
            "init_time": (
                "init_time",
                init_time,
                {"long_name": "forecast initialisation time", "standard_name": "forecast_reference_time"},
            ),
            "lead_time": (
                "lead_time",
                lead_time.astype("timedelta64[h]") if data.step < 600 else lead_time,
                {"long_name": "forecast lead time", "standard_name": "forecast_period"}
                | ({} if data.step < 600 else {"units": "hours"}),
            ),
            "lat": ("lat", data.lat, {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}),
            "lon": ("lon", data.lon, {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}),
        },
        attrs={
            "Conventions": "CF-1.8",
            "title": f"hfm climate forecast of {', '.join(data.variables)}",
            "history": "written by hfm climate forecast",
            "source": "hfm climate forecast",
            "base_lead_steps": base_lead,
        },
    )
    if np.issubdtype(np.asarray(init_time).dtype, np.datetime64) and data.step < 600:
        ds = ds.assign_coords(valid_time=ds["init_time"] + ds["lead_time"])
        ds["valid_time"].attrs.update(long_name="valid time = init_time + lead_time", standard_name="time")
    path = Path(path)
    if path.suffix not in (".nc", ".zarr"):
        raise HFMError(f"{path}: a forecast is written as netCDF (.nc) or zarr (.zarr); the suffix says neither")
    if path.suffix == ".zarr":
        ds.to_zarr(path, mode="w", zarr_format=2, encoding=_cf_encoding(ds))
    else:
        ds.to_netcdf(path, encoding=_cf_encoding(ds))
    return ds


def _cf_encoding(ds: xr.Dataset) -> dict[str, dict[str, Any]]:
    """CF-1.8 allows no int64 and no _FillValue on coordinates: times as double hours, coordinates without fill."""
    encoding: dict[str, dict[str, Any]] = {name: {"_FillValue": None} for name in ("lat", "lon")}
    for name in ("init_time", "valid_time"):
        if name in ds.coords and np.issubdtype(ds[name].dtype, np.datetime64):
            encoding[name] = {"dtype": "float64", "units": "hours since 1970-01-01 00:00:00", "_FillValue": None}
    if np.issubdtype(ds["lead_time"].dtype, np.timedelta64):
        encoding["lead_time"] = {"dtype": "float64", "units": "hours", "_FillValue": None}
    else:
        encoding["lead_time"] = {"_FillValue": None}
    return encoding


def _per_step_rmse(forecast: np.ndarray, truth: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Latitude-weighted RMSE of each step (N, V, H, W) -> (N,): the paired units of the intervals."""
    return rmse(forecast[None], truth[None], lat).reshape(forecast.shape[0], -1).mean(axis=1)


def linear_correction(coarse_fit: np.ndarray, fine_fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per fine-grid point least squares fine = a + b * bicubic over training steps: (a, b), each (V, H, W)."""
    x, y = coarse_fit.astype("float64"), fine_fit.astype("float64")
    xm, ym = x.mean(axis=0), y.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = ((x - xm) * (y - ym)).sum(axis=0) / ((x - xm) ** 2).sum(axis=0)
    b = np.nan_to_num(b, nan=1.0)
    return ym - b * xm, b


def evaluate_downscaling(model: FieldDownscaler, data: FieldData, normaliser: Normaliser, factor: int) -> dict:
    """RMSE (K, latitude-weighted) on test steps of the model against bilinear, bicubic and bicubic with a
    per-point linear correction fitted on the training steps; `per_step` holds each method's RMSE per test step."""

    def fine_and_bicubic(steps: np.ndarray) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
        full = torch.from_numpy(np.nan_to_num(data.fields[steps]).astype("float32"))
        fine, coarse = coarsen(full, factor)
        return fine, {mode: upsample(coarse, factor, mode).numpy() for mode in ("bilinear", "bicubic")}

    train_fine, train_up = fine_and_bicubic(np.flatnonzero(data.is_train))
    a, b = linear_correction(train_up["bicubic"], train_fine.numpy())
    steps = np.flatnonzero(~data.is_train)
    truth, forecasts = fine_and_bicubic(steps)
    forecasts["bicubic_linear"] = (a + b * forecasts["bicubic"]).astype("float32")
    h, w = truth.shape[-2:]
    lat = data.lat[:h]
    z = torch.from_numpy(normaliser.to_z(data.fields[steps], steps))
    _, z_coarse = coarsen(z, factor)
    with torch.no_grad():
        z_fine = model(upsample(z_coarse, factor, "bicubic")).numpy()
    clim = normaliser.means[normaliser.index[steps]][..., :h, :w]
    forecasts["hfm"] = z_fine * normaliser.scale + clim
    per_step = {name: _per_step_rmse(f, truth.numpy(), lat) for name, f in forecasts.items()}
    return {name: float(v.mean()) for name, v in per_step.items()} | {"per_step": per_step, "steps": steps}


def evaluate_interpolation(model: torch.nn.Module, data: FieldData, normaliser: Normaliser, window: int) -> dict:
    """RMSE (latitude-weighted, field units) of the inner steps of test windows: the model against linear
    interpolation in time of the fields and of the anomalies (against the training climatology, which carries the
    diurnal cycle); `per_window` holds each method's RMSE per window (its inner steps pooled)."""
    from hfm.climate.data import window_starts

    starts = window_starts(data, window, "test")
    idx = starts[:, None] + np.arange(window)[None, :]
    fields = data.fields[idx.ravel()].reshape(*idx.shape, *data.fields.shape[1:])
    z = normaliser.to_z(fields.reshape(-1, *fields.shape[2:]), idx.ravel()).reshape(fields.shape)
    x = torch.from_numpy(z)
    mask = interpolation_mask(model.encoder.tokenizer, tuple(x.shape[1:]), x.shape[0])
    with torch.no_grad():
        out = model(x, mask)
        z_pred = model.reconstruct(x, out).numpy()
    inner = slice(1, window - 1)
    n_inner = window - 2
    truth = fields[:, inner]
    pred = normaliser.from_z(z_pred[:, inner].reshape(-1, *z.shape[2:]), idx[:, inner].ravel()).reshape(truth.shape)
    w = np.linspace(0, 1, window)[inner][None, :, None, None, None]
    clim = normaliser.means[normaliser.index[idx.ravel()]].reshape(fields.shape)
    anomaly = fields - clim
    forecasts = {
        "hfm": np.where(np.isnan(truth), np.nan, pred),
        "linear": fields[:, :1] * (1 - w) + fields[:, -1:] * w,
        "linear_anomaly": clim[:, inner] + anomaly[:, :1] * (1 - w) + anomaly[:, -1:] * w,
    }
    flat_truth = truth.reshape(-1, *fields.shape[2:])
    per_window = {
        name: _per_step_rmse(f.reshape(-1, *fields.shape[2:]), flat_truth, data.lat).reshape(-1, n_inner).mean(axis=1)
        for name, f in forecasts.items()
    }
    return {name: float(v.mean()) for name, v in per_window.items()} | {
        "per_window": per_window,
        "windows": int(starts.size),
    }
