import numpy as np
import pytest
import xarray as xr

from hfm.climate.readers import open_fields
from hfm.climate.readers.units import G0, to_canonical
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


def test_pressure_levels_in_pa_become_hpa_and_flatten_for_models(tmp_path):
    from hfm.climate.curate import DEFAULT_NAME, curate_fields
    from hfm.climate.data import FieldData
    from hfm.shared.curate_driver import DatasetDescription

    rng = np.random.default_rng(0)
    times = np.arange("2000-01-01", "2000-01-03", np.timedelta64(6, "h"), dtype="datetime64[ns]")
    ds = xr.Dataset(
        {"z": (("time", "plev", "lat", "lon"), rng.standard_normal((8, 2, 3, 4)), {"units": "m**2 s**-2"})},
        coords={
            "time": times,
            "plev": ("plev", [85000.0, 50000.0], {"units": "Pa"}),
            "lat": [0.0, 1.0, 2.0],
            "lon": [0.0, 1.0, 2.0, 3.0],
        },
    )
    ds.to_netcdf(tmp_path / "z.nc")
    fields = open_fields(tmp_path / "z.nc")
    assert fields["level"].values.tolist() == [500.0, 850.0]
    tests = DatasetDescription(DEFAULT_NAME, "CC0-1.0", ["HFM tests"])
    curate_fields([tmp_path / "z.nc"], tmp_path / "out", tests, show_progress=False)
    data = FieldData.load(tmp_path / "out")
    assert data.fields.shape == (8, 2, 3, 4) and data.variables == ["z@500", "z@850"]
    np.testing.assert_allclose(data.fields[:, 1], ds["z"].values[:, 0], rtol=1e-6)
