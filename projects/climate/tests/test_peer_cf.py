"""Peer checks: the IOOS compliance-checker (CF-1.8) and cf_xarray on the netCDF and zarr files hfm climate writes."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cf_xarray  # noqa: F401  (registers the .cf accessor)
import numpy as np
import pytest
import torch
import xarray as xr

from hfm.climate.curate import DEFAULT_NAME, curate_fields
from hfm.climate.data import FieldData, Normaliser
from hfm.climate.experiments.end_to_end import HADISST_OWNER
from hfm.climate.format import open_store
from hfm.climate.predict import write_forecast
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model

TEST_OWNER = DatasetDescription(DEFAULT_NAME, "CC0-1.0", ["HFM tests"])  # generated fields, written by the tests

CHECKER = Path(sys.executable).parent / "compliance-checker"


def cf_failures(path: Path, tmp_path: Path) -> dict[str, list[str]]:
    """The checker's failing high-priority ('Errors') checks: name -> messages."""
    report = tmp_path / f"{path.name}.json"
    subprocess.run([str(CHECKER), "--test=cf:1.8", "-f", "json", "-o", str(report), str(path)], capture_output=True)
    result = json.loads(report.read_text())["cf:1.8"]
    return {c["name"]: c["msgs"] for c in result["high_priorities"] if c["value"][0] < c["value"][1]}


@pytest.fixture
def written(tmp_path, synthetic_file):
    """A curated store and a forecast from it in both formats (untrained forecaster: the files are the subject)."""
    root = tmp_path / "cf"
    root.mkdir()
    synthetic_file(root / "a.nc", start="2000-01-01", steps=24, lat=8, lon=12, seed=1)
    curate_fields([root / "a.nc"], root / "store", TEST_OWNER, train_end="2000-01-04", show_progress=False)
    data = FieldData.load(root / "store")
    torch.manual_seed(0)
    args = {"variables": 2, "history": 2, "patch_lat": 4, "patch_lon": 4, "width": 16, "depth": 1, "heads": 2}
    net = create_model("climate-forecaster", **args).eval()
    for name in ("forecast.nc", "forecast.zarr"):
        write_forecast(net, data, Normaliser(data), 1, np.arange(2, 8), 2, root / name)
    return root


def test_forecast_netcdf_passes_cf_1_8(written, tmp_path):
    assert cf_failures(written / "forecast.nc", tmp_path) == {}
    ds = xr.open_dataset(written / "forecast.nc", decode_times=False)
    assert ds["init_time"].dtype == np.float64 and ds["lead_time"].dtype == np.float64
    assert "_FillValue" not in ds["lat"].encoding and "_FillValue" not in ds["lon"].encoding
    assert ds["t"].attrs["long_name"] == "t forecast" and ds.attrs["title"] and ds.attrs["history"]


def test_forecast_zarr_passes_cf_1_8_but_for_the_nc_suffix_rule(written, tmp_path):
    # the checker reads zarr through NCZarr; its §2.1 rule ("must end with .nc") cannot hold for a zarr store
    assert set(cf_failures(written / "forecast.zarr", tmp_path)) == {"§2.1 Filename"}


@pytest.mark.parametrize("name", ["forecast.nc", "forecast.zarr", "store"])
def test_cf_xarray_finds_the_axes(written, name):
    ds = open_store(written / name) if name == "store" else xr.open_dataset(written / name)
    axes = ds.cf.axes
    assert axes["X"] == ["lon"] and axes["Y"] == ["lat"] and len(axes["T"]) == 1
    assert ds.cf["latitude"].name == "lat" and ds.cf["longitude"].name == "lon"


def test_a_forecast_suffix_that_names_another_format_is_refused(written, tmp_path):
    data = FieldData.load(written / "store")
    net = create_model("climate-forecaster", variables=2, patch_lat=4, patch_lon=4, width=16, depth=1, heads=2)
    with pytest.raises(HFMError, match=r"f\.csv: a forecast is written as netCDF"):
        write_forecast(net.eval(), data, Normaliser(data), 1, np.arange(2, 4), 1, tmp_path / "f.csv")
    assert not (tmp_path / "f.csv").exists()


def test_ostia_regridded_netcdf_passes_cf_1_8(hadisst, tmp_path):
    pytest.importorskip("iris_sample_data", reason="OSTIA ships in iris-sample-data")
    from hfm.climate.experiments.transfer import curate_ostia_on_grid

    curate_fields([hadisst], tmp_path / "hadisst", HADISST_OWNER, show_progress=False)
    curate_ostia_on_grid(FieldData.load(tmp_path / "hadisst"), tmp_path / "ostia")
    assert cf_failures(tmp_path / "ostia" / "ostia-on-hadisst-grid.nc", tmp_path) == {}
    assert xr.open_dataset(tmp_path / "ostia" / "ostia-on-hadisst-grid.nc").cf.axes["T"] == ["time"]


def test_curated_store_passes_cf_1_8(hadisst, tmp_path):
    """The store's CF content (read back by xarray, written as netCDF so the checker can open it: NCZarr cannot
    read string coordinates) has no failing high-priority check; its coordinates carry no fill value in the zarr."""
    curate_fields([hadisst], tmp_path / "sst", replace(HADISST_OWNER, name="hadisst-sst"), show_progress=False)
    zarr_store = tmp_path / "sst" / "data.zarr"
    for name in ("time", "lat", "lon"):
        assert json.loads((zarr_store / name / ".zarray").read_text())["fill_value"] is None
    ds = xr.open_zarr(zarr_store, decode_times=False)
    assert ds["time"].dtype == np.float64 and ds.attrs["title"] == "hadisst-sst" and ds.attrs["history"]
    assert ds["fields"].attrs["units"] == "K" and list(ds["units"].values) == ["K"]
    # xarray's netCDF writer would add a NaN fill value to float coordinates; the store has none
    ds.to_netcdf(tmp_path / "store.nc", encoding={name: {"_FillValue": None} for name in ("time", "lat", "lon")})
    assert cf_failures(tmp_path / "store.nc", tmp_path) == {}


def test_store_keeps_the_sources_standard_names_and_units_per_variable(tmp_path, synthetic_file):
    source = synthetic_file(tmp_path / "raw.nc", steps=8)
    ds = xr.open_dataset(source).load()
    ds["t"].attrs["standard_name"] = "air_temperature"
    ds["msl"].attrs["standard_name"] = "air_pressure_at_mean_sea_level"
    ds.to_netcdf(tmp_path / "named.nc")
    curate_fields([tmp_path / "named.nc"], tmp_path / "store", TEST_OWNER, show_progress=False)
    store = open_store(tmp_path / "store")
    assert list(store["standard_name"].values) == ["air_temperature", "air_pressure_at_mean_sea_level"]
    assert list(store["units"].values) == ["K", "Pa"]
    # mixed units: the stack has none of its own; each variable's is on the `units` coordinate
    assert "units" not in store["fields"].attrs and "standard_name" not in store["fields"].attrs


@pytest.mark.parametrize("name", ["forecast.nc", "forecast.zarr"])
def test_forecast_files_carry_init_lead_and_valid_time(written, name):
    """Both formats read back with the init times asked for, leads of one and two 6 h steps and valid = init + lead;
    the values at the first lead are the forecaster's own (what `evaluate` scores)."""
    from hfm.climate.predict import model_forecaster

    data = FieldData.load(written / "store")
    ds = xr.open_zarr(written / name) if name.endswith(".zarr") else xr.open_dataset(written / name)
    np.testing.assert_array_equal(ds["init_time"].values, data.times.values[2:8])
    np.testing.assert_array_equal(ds["lead_time"].values, np.array([6, 12], "timedelta64[h]"))
    np.testing.assert_array_equal(ds["valid_time"].values, data.times.values[[[3, 4], [4, 5], [5, 6], [6, 7],
                                                                            [7, 8], [8, 9]]])  # fmt: skip
    torch.manual_seed(0)  # the same untrained forecaster as the fixture's
    args = {"variables": 2, "history": 2, "patch_lat": 4, "patch_lon": 4, "width": 16, "depth": 1, "heads": 2}
    net = create_model("climate-forecaster", **args).eval()
    expected = model_forecaster(net, data, Normaliser(data), 1)(None, np.arange(2, 8), 1)
    np.testing.assert_allclose(ds["t"].isel(lead_time=0).values, expected[:, 0], rtol=1e-6)
    assert ds["init_time"].attrs["standard_name"] == "forecast_reference_time"
    assert ds["lead_time"].attrs["standard_name"] == "forecast_period"
