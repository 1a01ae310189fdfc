import numpy as np
import pytest
import xarray as xr

from hfm.climate.readers import open_fields
from hfm.climate.units import G0, to_canonical
from hfm.shared.errors import InvalidInput


def test_netcdf_units_become_canonical_and_axes_ascend(tmp_path, synthetic_file):
    raw = synthetic_file(tmp_path / "a.nc")
    ds = open_fields(raw)
    src = xr.open_dataset(raw)
    assert ds["t"].attrs["units"] == "K" and ds["msl"].attrs["units"] == "Pa"
    np.testing.assert_allclose(ds["t"].values[:, ::-1], src["t"].values + 273.15, rtol=1e-6)
    np.testing.assert_allclose(ds["msl"].values[0, 0, 0], src["msl"].values[0, -1, 0] * 100, rtol=1e-6)
    assert np.all(np.diff(ds["lat"].values) > 0)


def test_360_day_calendar_is_kept(tmp_path, synthetic_file):
    import cftime

    times = [cftime.Datetime360Day(2000, 2, d) for d in (28, 29, 30)]
    ds = xr.Dataset(
        {"t": (("time", "lat", "lon"), np.ones((3, 2, 2)), {"units": "K"})},
        coords={"time": times, "lat": [0.0, 1.0], "lon": [0.0, 1.0]},
    )
    ds.to_netcdf(tmp_path / "c.nc")
    out = open_fields(tmp_path / "c.nc")
    assert out["time"].values[2] == cftime.Datetime360Day(2000, 2, 30)


def test_geopotential_height_becomes_geopotential():
    field = xr.DataArray([100.0], attrs={"standard_name": "geopotential_height"})
    out = to_canonical(field, "zg", "m")
    assert out.attrs["units"] == "m2 s-2" and float(out[0]) == pytest.approx(100 * G0)


def test_unknown_units_name_the_variable():
    with pytest.raises(InvalidInput, match="unknown units 'furlongs'") as info:
        to_canonical(xr.DataArray([1.0]), "t", "furlongs")
    assert info.value.field == "t" and info.value.code == "units"


def test_zarr_round_trip(tmp_path, synthetic_file):
    ds = open_fields(synthetic_file(tmp_path / "a.nc"))
    ds.to_zarr(tmp_path / "a.zarr", zarr_format=2)
    again = open_fields(tmp_path / "a.zarr")
    np.testing.assert_array_equal(again["t"].values, ds["t"].values)


def test_era5_grib_reads_in_place(era5_grib):
    ds = open_fields(era5_grib)
    assert ds["t2m"].shape == (744, 33, 49)
    assert ds["t2m"].attrs["units"] == "K"
    assert 250 < float(ds["t2m"].mean()) < 290
    assert float(ds["lat"][0]) == 50.0 and float(ds["lon"][-1]) == 2.0
