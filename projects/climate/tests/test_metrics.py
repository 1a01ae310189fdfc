import numpy as np
import pytest

from hfm.climate.curate import DEFAULT_NAME, curate_fields
from hfm.climate.data import FieldData
from hfm.climate.experiments.end_to_end import ERA5_OWNER, HADISST_OWNER
from hfm.climate.metrics import acc, bias, evaluate, rmse
from hfm.shared.curate_driver import DatasetDescription

TEST_OWNER = DatasetDescription(DEFAULT_NAME, "CC0-1.0", ["HFM tests"])  # generated fields, written by the tests


def test_metrics_on_known_fields():
    lat = np.array([0.0, 60.0])
    truth = np.zeros((2, 2, 3))
    forecast = np.zeros((2, 2, 3))
    forecast[:, 0] = 1.0  # error 1 at the equator, weight 1 / 0.75 after normalising cos(lat)
    forecast[1, 1] = 2.0  # error 2 at 60N in the second step
    w0, w1 = 1 / 0.75, 0.5 / 0.75
    expected = (np.sqrt(w0 / (w0 + w1)) + np.sqrt((w0 + 4 * w1) / (w0 + w1))) / 2
    assert rmse(forecast, truth, lat) == pytest.approx(expected)
    assert bias(forecast, truth, lat) == pytest.approx((w0 / (w0 + w1) + (w0 + 2 * w1) / (w0 + w1)) / 2)
    anomaly = np.random.default_rng(0).standard_normal((4, 2, 3))
    assert acc(anomaly, anomaly, np.zeros_like(anomaly), lat) == pytest.approx(1.0)
    assert acc(-anomaly, anomaly, np.zeros_like(anomaly), lat) == pytest.approx(-1.0)


def test_hadisst_baselines_reproduce_reference(hadisst, tmp_path):
    curate_fields(
        [hadisst], tmp_path, HADISST_OWNER, train_start="1991-01-01", train_end="2014-12-31", show_progress=False
    )
    result = evaluate(FieldData.load(tmp_path), [1])[1]
    assert result["persistence"]["rmse"][0] == pytest.approx(0.784, abs=5e-4)
    assert result["climatology"]["rmse"][0] == pytest.approx(0.521, abs=5e-4)
    assert result["damped_persistence"]["rmse"][0] == pytest.approx(0.281, abs=5e-4)


def test_era5_persistence_reproduces_reference(era5_grib, tmp_path):
    curate_fields([era5_grib], tmp_path, ERA5_OWNER, train_end="2019-03-24", show_progress=False)
    result = evaluate(FieldData.load(tmp_path), [1, 6])
    assert result[1]["persistence"]["rmse"][0] == pytest.approx(0.502, abs=5e-4)
    assert result[6]["persistence"]["rmse"][0] == pytest.approx(2.414, abs=5e-4)
    # Per-point damping with an hour-of-day climatology: 0.384 / 1.480 K (README quotes 0.382 / 1.635 K).
    assert result[1]["damped_persistence"]["rmse"][0] == pytest.approx(0.384, abs=1e-3)
    assert result[6]["damped_persistence"]["rmse"][0] == pytest.approx(1.480, abs=1e-3)


def test_360_day_calendar_end_to_end(tmp_path):
    import xarray as xr

    times = xr.date_range("2000-01-01", periods=720, freq="D", calendar="360_day", use_cftime=True)
    rng = np.random.default_rng(0)
    seasonal = 280 + 10 * np.sin(2 * np.pi * (np.arange(720) % 360) / 360)
    values = seasonal[:, None, None] + rng.standard_normal((720, 3, 4))
    coords = {"time": times, "lat": [0.0, 1.0, 2.0], "lon": [0.0, 1.0, 2.0, 3.0]}
    xr.Dataset({"tas": (("time", "lat", "lon"), values, {"units": "K"})}, coords=coords).to_netcdf(tmp_path / "a.nc")
    curate_fields([tmp_path / "a.nc"], tmp_path / "out", TEST_OWNER, train_end="2000-12-30", show_progress=False)
    data = FieldData.load(tmp_path / "out")
    assert data.climatology.key == "dayofyear" and data.is_train.sum() == 360
    scores = evaluate(data, [1])[1]
    # white noise around a seasonal cycle: climatology from one noisy year errs by about sqrt(2)
    assert scores["climatology"]["rmse"][0] == pytest.approx(1.402, abs=1e-3)
    assert scores["persistence"]["rmse"][0] == pytest.approx(1.408, abs=1e-3)
