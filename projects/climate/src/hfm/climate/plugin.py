"""What hfm-climate offers to the core (see `hfm domains`). Lists only implemented features."""

from hfm.shared.plugins import DomainPlugin


def _cli():
    from hfm.climate.cli import app

    return app


def _format():
    from hfm.climate.store import CFZarrFormat

    return CFZarrFormat()


def _quickstart(context):
    from hfm.climate.quickstart import quickstart

    return quickstart(context)


def _register_models() -> None:
    import hfm.climate.models  # noqa: F401  (registers climate-mae, climate-forecaster, climate-downscaler)


_register_models()


def _synergy(work_dir, smoke, seed):
    from hfm.climate.synergy_bench import climate_bench

    return climate_bench(work_dir, smoke, seed)


plugin = DomainPlugin(
    name="climate",
    summary="Gridded atmospheric fields: xarray, zarr, netCDF/GRIB, forecasting and downscaling.",
    readers=("netcdf", "grib", "zarr"),
    tasks=("climate-mae", "climate-forecast", "climate-downscale"),
    heads=("forecast", "downscale", "temporal-interpolation"),
    dataset_formats={"cf-zarr": _format},
    cli=_cli,
    hooks={"quickstart": _quickstart, "synergy": _synergy},
)
