"""Forecasts from a trained model: the forecaster of a model folder and CF netCDF/zarr forecast files.

Forecasts are written with init time and lead time as separate dimensions and the valid time as a 2-D coordinate
(`valid_time = init_time + lead_time`), so nobody has to guess which time a field belongs to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from hfm.climate.data import FieldData, Forecaster, Normaliser
from hfm.climate.models import FieldForecaster
from hfm.shared.artifacts import load_pretrained
from hfm.shared.errors import HFMError


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
