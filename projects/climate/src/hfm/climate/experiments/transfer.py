"""Transfer: a HadISST forecaster scored on OSTIA, a second, independent SST analysis (iris-sample-data).

OSTIA's monthly fields (54 months, April 2006 - September 2010, 5 S - 5 N at 0.83 deg) are averaged into the 5 deg
boxes of the HadISST grid (the three rows at 5 S, 0 and 5 N; the other rows are undefined, like land) and curated
like any input. Months 1-24 are OSTIA's training period (its climatology and anomaly scale, the baselines' fits),
months 25-30 its validation block, months 31-54 the test targets. The forecaster comes from the HadISST fold whose
training period excludes every OSTIA test month (its test block and gaps cover them), and is scored as it is
(zero-shot: only the anomalies are formed against OSTIA's own climatology) and after a short fine-tune of the
whole model on OSTIA's training months, the checkpoint chosen on the validation block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hfm.climate.curate import curate_fields
from hfm.climate.data import FieldData, Normaliser
from hfm.climate.experiments.crossval import (
    CVBudget,
    FoldBaselines,
    Protocol,
    _validation_score,
    forecast_rmse,
    train_selected,
)
from hfm.climate.experiments.folds import Fold, mask_to_ranges
from hfm.climate.predict import load_model, model_forecaster
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError

TRAIN_MONTHS, VALID_MONTHS = 24, 6
_MODEL_KEYS = ("history", "spacing", "patch_lat", "patch_lon", "width", "depth", "heads", "base", "base_modes")


def ostia_path() -> Path:
    try:
        import iris_sample_data
    except ImportError as error:
        raise HFMError("the OSTIA transfer needs the iris-sample-data package (pip install iris-sample-data)") from (
            error
        )
    return Path(iris_sample_data.__file__).parent / "sample_data" / "ostia_monthly.nc"


def box_average(source: xr.DataArray, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """(T, lat, lon) on a fine grid -> (T, len(lat), len(lon)): the mean of the fine cells whose centres lie in
    each target box (boxes as wide as the target spacing, centred on its points); NaN where a box has none."""
    src_lat, src_lon = source["latitude"].values, source["longitude"].values % 360
    half_lat, half_lon = np.diff(lat).mean() / 2, np.diff(lon).mean() / 2
    values = source.values.astype("float64")
    out = np.full((values.shape[0], lat.size, lon.size), np.nan)
    for i, la in enumerate(lat):
        rows = np.flatnonzero((src_lat >= la - half_lat) & (src_lat < la + half_lat))
        if rows.size == 0:
            continue
        for j, lo in enumerate(lon):
            cols = np.flatnonzero((src_lon >= (lo - half_lon) % 360) & (src_lon < (lo + half_lon) % 360))
            if cols.size:
                block = values[:, rows][:, :, cols].reshape(values.shape[0], -1)
                count = np.isfinite(block).sum(axis=1)
                out[:, i, j] = np.where(count > 0, np.nansum(block, axis=1) / np.maximum(count, 1), np.nan)
    return out


def curate_ostia_on_grid(like: FieldData, out: Path) -> Path:
    """OSTIA box-averaged onto `like`'s grid, written as CF netCDF and curated into `out/data`."""
    source = xr.open_dataset(ostia_path())["surface_temperature"]
    if source.attrs.get("units") not in ("K", "kelvin"):
        raise HFMError(f"{ostia_path()}: surface_temperature: expected units K, got {source.attrs.get('units')!r}")
    fields = box_average(source, like.lat, like.lon)
    out.mkdir(parents=True, exist_ok=True)
    netcdf = out / "ostia-on-hadisst-grid.nc"
    sst_attrs = {"units": "K", "standard_name": "sea_surface_temperature", "long_name": "OSTIA SST, box-averaged"}
    xr.Dataset(
        {"sst": (("time", "lat", "lon"), fields.astype("float32"), sst_attrs)},
        coords={
            "time": ("time", source["time"].values, {"standard_name": "time", "axis": "T"}),
            "lat": ("lat", like.lat, {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}),
            "lon": ("lon", like.lon, {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}),
        },
        attrs={
            "Conventions": "CF-1.8",
            "title": "OSTIA sea surface temperature on the HadISST grid",
            "history": "box-averaged to the HadISST grid by hfm climate",
            "source": "OSTIA monthly (iris-sample-data), box-averaged to 5 deg",
        },
    ).to_netcdf(  # CF-1.8: no int64 times, no _FillValue on coordinates
        netcdf,
        encoding={
            "time": {"dtype": "float64", "units": "hours since 1970-01-01 00:00:00", "_FillValue": None},
            "lat": {"_FillValue": None},
            "lon": {"_FillValue": None},
        },
    )
    train_end = str(source["time"].values[TRAIN_MONTHS - 1])[:10]
    ostia = DatasetDescription("ostia-on-hadisst-grid", "LicenseRef-OSTIA", ["Met Office"])
    curate_fields([netcdf], out / "data", ostia, train_end=train_end, max_nan_fraction=0.95, show_progress=False)
    return out / "data"


def source_fold(folds: list[Fold], times: np.ndarray, test_times: np.ndarray) -> int:
    """The HadISST fold none of whose training or validation months falls within OSTIA's test months."""
    hadisst_times = np.asarray(times).astype("datetime64[M]")
    wanted = np.isin(hadisst_times, np.asarray(test_times).astype("datetime64[M]"))
    for fold in folds:
        if not ((fold.train | fold.valid) & wanted).any():
            return fold.index
    raise HFMError("OSTIA transfer: every HadISST fold trained on some OSTIA test month")


def ostia_transfer(
    model_dir: Path, source_task: dict[str, Any], like: FieldData, out: Path, protocol: Protocol, budget: CVBudget
) -> dict[str, Any]:
    """Per-forecast losses at 1 month on OSTIA's test months: hfm zero-shot and fine-tuned, and the baselines."""
    dataset = curate_ostia_on_grid(like, out)
    full = FieldData.load(dataset)
    steps = full.hours.size
    train = np.zeros(steps, bool)
    train[:TRAIN_MONTHS] = True
    valid = np.zeros(steps, bool)
    valid[TRAIN_MONTHS : TRAIN_MONTHS + VALID_MONTHS] = True
    fold = Fold(0, train, valid, ~(train | valid))
    data = full.with_training(train)
    normaliser = Normaliser(data)
    baselines = FoldBaselines(data, fold, protocol)
    init = data.pairs_into(1, fold.test)
    truth = data.fields[init + 1]
    forecasts = baselines.forecasts(1, init)
    source = load_model(model_dir)
    forecasts["hfm_zero_shot"] = model_forecaster(source, data, normaliser, 1)(None, init, 1)
    arch = {k: source_task[k] for k in _MODEL_KEYS if k in source_task}
    options = {"dataset": str(dataset), "lead": 1, "train_ranges": mask_to_ranges(train), "init": str(model_dir),
               "valid_ranges": mask_to_ranges(valid)}  # fmt: skip
    options |= arch
    score = _validation_score(data, normaliser, 1, data.pairs_into(1, valid))
    tuned, selection = train_selected(options, out / "fine-tune", budget, score)
    forecasts["hfm_fine_tuned"] = model_forecaster(tuned, data, normaliser, 1)(None, init, 1)
    losses = {name: forecast_rmse(f, truth, data.lat) for name, f in forecasts.items()}
    return {"losses": losses, "init": init, "selection": selection, "choices": baselines.choice,
            "test": [str(data.times.values[i + 1])[:7] for i in (init[0], init[-1])]}  # fmt: skip
