"""What hfm-climate offers to the core (see `hfm domains`): the one object behind its entry point, and the only
place its tasks and benchmarks are declared. Lists only implemented features."""

from __future__ import annotations

from typing import Any

from hfm.shared.plugins import DomainPlugin


def _format() -> Any:
    from hfm.climate.format import CFZarrFormat

    return CFZarrFormat()


def _register_models() -> None:
    import hfm.climate.models  # noqa: F401  (registers climate-mae, climate-forecaster, climate-downscaler)


_register_models()


plugin = DomainPlugin(
    name="climate",
    summary="Gridded atmospheric fields: xarray, zarr, netCDF/GRIB, forecasting and downscaling.",
    readers=("netcdf", "grib", "zarr"),
    task_factories={
        "climate-mae": "hfm.climate.tasks:ClimateMAETask",
        "climate-forecast": "hfm.climate.tasks:ClimateForecastTask",
        "climate-downscale": "hfm.climate.tasks:ClimateDownscaleTask",
        "climate-corpus-mae": "hfm.climate.tasks:ClimateCorpusMAETask",
    },
    benchmarks={
        "climate-hadisst": "hfm.climate.benchmarks:hadisst_cv",
        "climate-era5": "hfm.climate.benchmarks:era5_cv",
        "climate-era5-fields": "hfm.climate.benchmarks:era5_fields",
        "climate-speed": "hfm.climate.benchmarks:loader_speed",
    },
    models=("climate-mae", "climate-forecaster", "climate-downscaler", "climate-interpolator"),
    heads=("forecast", "downscale", "temporal-interpolation"),
    baselines=(
        "persistence",
        "climatology",
        "damped anomaly persistence",
        "linear inverse model",
        "neighbourhood ridge autoregression",
        "bilinear / bicubic / bicubic + linear correction",
        "linear interpolation in time",
    ),
    dataset_formats={"cf-zarr": _format},
    cli="hfm.climate.cli:app",
    hooks={"quickstart": "hfm.climate.quickstart:quickstart", "synergy": "hfm.climate.synergy:climate_bench"},
)
