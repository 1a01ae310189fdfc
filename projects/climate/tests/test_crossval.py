import json

import numpy as np
import pytest

from hfm.climate.baselines import LinearInverseModel, NeighbourhoodRidge
from hfm.climate.experiments.end_to_end import HADISST_OWNER
from hfm.climate.experiments.folds import blocked_folds, mask_to_ranges, ranges_to_mask


def test_hadisst_folds_are_disjoint_with_gaps_and_validation():
    folds = blocked_folds(372, 10, 36, 12, 24)
    tested = np.zeros(372, int)
    for fold in folds:
        tested += fold.test
        test = np.flatnonzero(fold.test)
        assert test.size == 36 and fold.valid.sum() == 24
        assert not (fold.train & (fold.test | fold.valid)).any()
        train = np.flatnonzero(fold.train)
        # no training month within 12 months of a test month
        distance = np.min(np.abs(train[:, None] - test[None, :]))
        assert distance == (37 if fold.index in (0, 9) else 13)  # end blocks: validation between gap and training
    assert tested.max() == 1 and tested.sum() == 360
    assert folds[0].train.sum() == 372 - 36 - 12 - 24  # first block: gap only after it, validation after the gap
    assert np.flatnonzero(folds[0].valid)[0] == 48
    assert np.flatnonzero(folds[5].valid)[-1] == np.flatnonzero(folds[5].test)[0] - 13
    mask = folds[3].train
    assert np.array_equal(ranges_to_mask(json.loads(json.dumps(mask_to_ranges(mask))), 372), mask)


def test_linear_inverse_model_recovers_a_propagator():
    rng = np.random.default_rng(1)
    t, h, w = 600, 4, 5
    modes = rng.standard_normal((2, h * w))
    g = np.array([[0.8, 0.1], [-0.1, 0.7]])
    pcs = np.zeros((t, 2))
    for k in range(1, t):
        pcs[k] = g @ pcs[k - 1] + rng.standard_normal(2)
    field = (pcs @ modes).reshape(t, 1, h, w)
    lim = LinearInverseModel(field, np.zeros(h), np.arange(t - 1), modes=2)
    init = np.arange(400, 590)
    expected = ((pcs[init] @ np.linalg.matrix_power(g, 2).T) @ modes).reshape(-1, 1, h, w)
    error = np.sqrt(np.mean((lim.forecast(field[init], 2) - expected) ** 2))
    assert error < 0.1 * np.sqrt(np.mean(expected**2))


def test_ridge_learns_advection_from_a_neighbour():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((300, 1, 6, 7)).astype("float32")
    for t in range(1, 300):  # the field moves one cell east per step
        a[t, :, :, 1:] = 0.9 * a[t - 1, :, :, :-1] + 0.3 * a[t, :, :, 1:]
    ridge = NeighbourhoodRidge(a, np.arange(2, 250), 1, (0, 1), alpha=1e-4)
    init = np.arange(250, 298)
    prediction = ridge.forecast(a, init)
    truth = a[init + 1]
    interior = (slice(None), slice(None), slice(None), slice(1, None))
    assert np.sqrt(np.mean((prediction - truth)[interior] ** 2)) < 0.5 * np.sqrt(np.mean(truth[interior] ** 2))


def test_torch_neighbourhood_features_match_the_ridge():
    import torch

    from hfm.climate.models import neighbourhood_features

    a = np.random.default_rng(3).standard_normal((10, 2, 4, 5)).astype("float32")
    ridge = NeighbourhoodRidge(a, np.arange(3, 8), 1, (0, 1, 2), 0.1)
    inits = np.array([4, 6])
    frames = torch.from_numpy(np.stack([a[inits - 2], a[inits - 1], a[inits]], axis=1))
    assert np.allclose(neighbourhood_features(frames).numpy(), ridge._features(a, inits))


def test_cross_validated_forecaster_on_hadisst(hadisst, tmp_path):
    from dataclasses import replace

    import xarray as xr

    from hfm.climate.curate import curate_fields
    from hfm.climate.experiments.crossval import HADISST, CVBudget, run_cv
    from hfm.shared.artifacts import load_pretrained

    curate_fields([hadisst], tmp_path / "data", HADISST_OWNER, train_end="2014-12-31", show_progress=False)
    protocol = replace(HADISST, folds=1, test_steps=36)
    budget = CVBudget(steps=4, eval_every=2, width=16, depth=1, batch_size=4)
    result = run_cv(tmp_path / "data", tmp_path / "cv", protocol, budget)
    assert [f["test_steps"] for f in result["folds"]] == [36]
    assert result["folds"][0]["test"].startswith("1991-01") and result["folds"][0]["valid"].startswith("1995-01")
    for selection in result["selection"]:
        scores = selection["valid_rmse_by_step"]
        assert set(scores) == {0, 2, 4} and scores[selection["chosen_step"]] == min(scores.values())
    choice = result["choices"][0]["lim_damped_residual 1"]
    # step 0 is the untrained head: exactly the linear inverse model (the same fit, as a matrix in torch)
    assert result["selection"][0]["valid_rmse_by_step"][0] == pytest.approx(
        choice["valid_rmse"][choice["chosen"]], rel=1e-4
    )
    one = result["leads"][1]
    assert len(one.init) == len(one.losses["hfm"]) == 35  # the first month has no init
    assert np.mean(one.losses["damped_persistence"]) < np.mean(one.losses["persistence"])
    model, _ = load_pretrained(tmp_path / "cv" / "fold0" / "forecast-1" / "model")
    assert model.base == "global" and model.base_matrix.abs().sum() > 0  # the LIM operator travels with the weights
    card = (tmp_path / "cv" / "fold0" / "forecast-1" / "model" / "README.md").read_text()
    assert "chosen_step" in card and "valid" in card
    training = json.loads((tmp_path / "cv" / "fold0" / "forecast-1" / "model" / "model_card.json").read_text())
    training = training["training"]  # the fold's periods and the chosen checkpoint, as the benchmark used them
    assert training["fold"] == result["folds"][0] and training["fold"]["test"].startswith("1991-01")
    assert training["selection"]["chosen_step"] == result["selection"][0]["chosen_step"]
    assert training["task"]["train_ranges"] == mask_to_ranges(blocked_folds(372, 1, 36, 12, 24)[0].train)
    again = run_cv(tmp_path / "data", tmp_path / "cv", protocol, budget, rescore=True)  # exported models, no training
    assert again["leads"][3].losses["hfm"] == result["leads"][3].losses["hfm"]
    forecast = xr.open_dataset(tmp_path / "cv" / "fold0" / "forecast-1" / "forecast-test.nc")
    assert forecast["sst"].dims == ("init_time", "lead_time", "lat", "lon") and forecast.sizes["init_time"] == 35
