import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import xarray as xr
from typer.testing import CliRunner

from hfm.climate.cli import app
from hfm.climate.data import FieldData, Normaliser, StoreWindows, window_starts, xarray_windows
from hfm.climate.experiments.end_to_end import ERA5_OWNER, evaluate_downscaling
from hfm.climate.metrics import evaluate
from hfm.climate.predict import load_model, model_forecaster
from hfm.climate.training import train_and_export
from hfm.shared.artifacts import read_config

TINY = {"patch_lat": 4, "patch_lon": 6, "width": 16, "depth": 1, "heads": 2}


@pytest.fixture(scope="module")
def sst_store(hadisst, tmp_path_factory):
    out = tmp_path_factory.mktemp("sst") / "data"
    argv = ["curate", str(hadisst), "--out", str(out), "--train-start", "1991-01-01", "--train-end", "2014-12-31"]
    result = CliRunner().invoke(app, [*argv, "-q", "--license", "LicenseRef-HadISST", "--creator", "Met Office"])
    assert result.exit_code == 0, result.output
    assert "inputs 1 = written 1 + quarantined 0" in result.output
    return out


def test_store_windows_match_an_xarray_loop(sst_store):
    data = FieldData.load(sst_store)
    normaliser = Normaliser(data)
    starts = window_starts(data, 3, "train")
    assert starts.size == 286 and starts.max() + 2 < data.is_train.sum()
    reader = StoreWindows(sst_store, starts[::50], 3, normaliser)
    theirs = list(xarray_windows(sst_store, starts[::50], 3, normaliser))
    for i, window in enumerate(theirs):
        np.testing.assert_array_equal(reader[i].numpy(), window)
    assert abs(float(reader[0].std()) - 1.0) < 0.5  # standardised anomalies


def test_pretrain_finetune_forecast_evaluate(sst_store, tmp_path):
    torch.manual_seed(0)
    mae = train_and_export(
        "climate-mae",
        {"dataset": str(sst_store), "window": 2, **TINY},
        tmp_path / "mae",
        steps=3,
        batch_size=4,
        progress=False,
    ).model_dir
    model_dir = train_and_export(
        "climate-forecast",
        {"dataset": str(sst_store), "init": str(mae), **TINY},
        tmp_path / "fc",
        steps=3,
        batch_size=4,
        progress=False,
    ).model_dir
    assert read_config(model_dir)["model"] == "climate-forecaster"
    data = FieldData.load(sst_store)
    model = load_model(model_dir)
    scores = evaluate(data, [1], {"hfm": model_forecaster(model, data, Normaliser(data), 1)})[1]
    # three steps leave the model near anomaly persistence: better than persistence, not yet damped persistence
    assert scores["hfm"]["rmse"][0] < scores["persistence"]["rmse"][0]
    assert scores["damped_persistence"]["rmse"][0] == pytest.approx(0.2811, abs=1e-4)

    argv = ["predict", str(sst_store), "--init", str(model_dir), "--out", str(tmp_path / "pred"), "--rollout", "2"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    forecast = xr.open_dataset(tmp_path / "pred" / "forecast.nc")
    assert forecast["sst"].dims == ("init_time", "lead_time", "lat", "lon")
    assert forecast.sizes["lead_time"] == 2 and forecast.sizes["init_time"] == 84
    assert forecast["sst"].attrs["units"] == "K"
    argv = ["evaluate", str(sst_store), "--init", str(model_dir), "--lead", "1", "--out", str(tmp_path / "eval")]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0 and "damped_persistence" in result.output and "hfm" in result.output
    scores_file = json.loads((tmp_path / "eval" / "scores.json").read_text())
    assert scores_file["1"]["damped_persistence"]["rmse"][0] == pytest.approx(0.2811, abs=1e-4)


def test_climatology_channel_leaves_land_at_zero_without_a_warning(sst_store):
    """SST land points have no climatology at any step: their channel is 0 (as before), the sea's is the
    climatology less its mean over the calendar, and no "Mean of empty slice" warning is raised."""
    import warnings

    data = FieldData.load(sst_store)
    normaliser = Normaliser(data)
    land = np.isnan(normaliser.means).all(axis=0)
    assert 0 < land.sum() < land.size
    steps = np.arange(0, 24, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        z = normaliser.climatology_z(steps)
    assert z.shape == (steps.size, *land.shape) and np.isfinite(z).all()
    np.testing.assert_array_equal(z[:, land], 0)
    sea = normaliser.means[:, ~land]
    expected = (sea[normaliser.index[steps]] - sea.mean(axis=0)) / normaliser.scale.reshape(-1)[0]
    np.testing.assert_allclose(z[:, ~land], np.nan_to_num(expected), rtol=1e-5, atol=1e-6)


def test_stats_command(sst_store):
    result = CliRunner().invoke(app, ["stats", str(sst_store)])
    assert result.exit_code == 0, result.output
    assert "sst  K  299.1" in result.output and "288 steps" in result.output


def test_downscaling_baselines_on_era5(era5_grib, tmp_path):
    from hfm.climate.curate import curate_fields

    curate_fields([era5_grib], tmp_path / "era5", ERA5_OWNER, train_end="2019-03-24", show_progress=False)
    data = FieldData.load(tmp_path / "era5")
    model = train_and_export(
        "climate-downscale",
        {"dataset": str(tmp_path / "era5"), **TINY},
        tmp_path / "down",
        steps=2,
        batch_size=2,
        progress=False,
    ).model_dir
    scores = evaluate_downscaling(load_model(model), data, Normaliser(data), 4)
    assert scores["bicubic"] < scores["bilinear"]
    assert 0 < scores["hfm"] < 3 * scores["bicubic"]
    # the per-point linear correction fitted on days 1-24 removes part of bicubic's systematic smoothing error
    assert scores["bicubic_linear"] < scores["bicubic"]
    assert scores["per_step"]["hfm"].shape == scores["steps"].shape == (168,)


def test_fields_benchmark_crop_keeps_values_and_units(era5_grib, tmp_path):
    """The fields benchmark's smaller grid: the 24 x 32 box of the real ERA5 file, values and units unchanged."""
    import xarray as xr

    from hfm.climate.benchmarks import FIELDS_CROP
    from hfm.climate.experiments.end_to_end import crop_fields
    from hfm.climate.readers import open_fields

    full = open_fields(era5_grib)
    cropped = open_fields(crop_fields(era5_grib, tmp_path / "crop.nc", FIELDS_CROP))
    assert dict(cropped.sizes) == {"time": 744, "lat": 24, "lon": 32}
    assert (float(cropped.lat[0]), float(cropped.lat[-1]), float(cropped.lon[0]), float(cropped.lon[-1])) == (
        51.0, 56.75, -8.0, -0.25,
    )  # fmt: skip
    assert cropped["t2m"].attrs["units"] == "K"
    xr.testing.assert_allclose(cropped["t2m"], full["t2m"].isel(FIELDS_CROP))


def test_speed_experiment_times_the_same_windows_both_ways(sst_store):
    from hfm.climate.experiments.end_to_end import speed_experiment

    rates = speed_experiment(sst_store, window=3, windows=20, repeats=2)
    assert rates.items == 20 and rates.ours.shape == rates.theirs.shape == (2,)
    assert (rates.ours > 0).all() and (rates.theirs > 0).all()


def test_interpolator_is_chosen_on_validation_and_its_card_names_the_split(era5_grib, tmp_path):
    """The interpolator trains on days 1-20, its base the least-squares interpolator (seen hours and their 7 x 7
    neighbourhood means) fitted on those days, picks its checkpoint on days 21-24 (step 0, the untrained model, is
    that base exactly) and never sees the test days."""
    from hfm.climate.baselines.interpolation import fit_gap_weights
    from hfm.climate.curate import curate_fields
    from hfm.climate.experiments.end_to_end import (
        INTERP_RADIUS,
        Budget,
        crop_fields,
        evaluate_interpolation,
        train_interpolator,
    )
    from hfm.shared.models.registry import create_model

    source = crop_fields(era5_grib, tmp_path / "crop.nc", {"lat": slice(0, 8), "lon": slice(0, 12)})
    curate_fields([source], tmp_path / "data", ERA5_OWNER, train_end="2019-03-24", show_progress=False)
    budget = Budget(interp_steps=4, interp_selection=True, batch_size=4, width=16, depth=1, heads=2)
    arch = {"patch_lat": 4, "patch_lon": 4, "width": 16, "depth": 1, "heads": 2}
    model, selection = train_interpolator(str(tmp_path / "data"), tmp_path / "interp", budget, arch)
    scores = selection["valid_rmse_by_step"]
    assert set(scores) == {0, 1, 2, 3, 4} and scores[selection["chosen_step"]] == min(scores.values())
    data = FieldData.load(tmp_path / "data")
    fit = data.with_training(np.arange(744) < 20 * 24)
    weights = fit_gap_weights(fit.anomalies(), window_starts(fit, 9, "train"), 9, context=1, radius=INTERP_RADIUS)
    assert weights.shape == (5, 8)  # 4 seen hours, then their neighbourhood means less the point
    np.testing.assert_allclose(model.base_weights.numpy(), weights, rtol=1e-5, atol=1e-6)  # fitted, saved, loaded
    valid = np.arange(20 * 24, 24 * 24 - 8)  # the 88 windows of 9 h inside days 21-24
    untrained = create_model("climate-interpolator", climatology_channel=True, window=9, context=1,
                             radius=INTERP_RADIUS, **arch).eval()  # fmt: skip
    untrained.base_weights.copy_(torch.from_numpy(weights))
    base = evaluate_interpolation(untrained, fit, Normaliser(fit), 9, valid)  # step 0 is the fitted base exactly
    assert base["hfm"] == pytest.approx(base["fitted_neighbourhood"], rel=1e-5) == pytest.approx(scores[0], rel=1e-5)
    assert base["fitted_anomaly"] < base["cubic_anomaly"] < base["linear_anomaly"] < base["linear"]
    card = json.loads((tmp_path / "interp" / "model" / "model_card.json").read_text())["training"]
    assert card["fold"]["valid"].startswith("2019-03-21T00") and card["fold"]["test"].startswith("2019-03-25T00")
    assert card["fold"]["train_steps"] == 20 * 24 and card["fold"]["valid_windows"] == 88
    assert card["selection"]["chosen_step"] == selection["chosen_step"]
    assert card["task"]["climatology_channel"] and card["task"]["valid_ranges"] == [[480, 576]]
    assert card["task"]["context"] == 1 and card["task"]["base"] == "fitted" and card["task"]["radius"] == 3
    test = evaluate_interpolation(model, data, Normaliser(data), 9)
    assert test["windows"] == 162  # starts 574-735: every hidden hour (start + 2 .. start + 6) a test hour
    assert test["per_window"]["hfm"].shape == (162,) and test["linear_anomaly"] < test["linear"]
    # without selection: the whole training period (days 1-24), its base fitted there, the last step kept
    whole, chosen = train_interpolator(
        str(tmp_path / "data"), tmp_path / "whole", replace(budget, interp_selection=False), arch
    )
    assert chosen == {"chosen_step": 4, "valid_rmse_by_step": {}}
    all_days = fit_gap_weights(data.anomalies(), window_starts(data, 9, "train"), 9, context=1, radius=INTERP_RADIUS)
    np.testing.assert_allclose(whole.base_weights.numpy(), all_days, rtol=1e-5, atol=1e-6)
    assert read_config(tmp_path / "whole" / "model")["args"]["radius"] == INTERP_RADIUS
