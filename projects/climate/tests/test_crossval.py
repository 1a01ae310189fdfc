import json

import numpy as np
import pytest

from hfm.climate.baselines import LinearInverseModel, NeighbourhoodRidge
from hfm.climate.folds import blocked_folds, mask_to_ranges, ranges_to_mask
from hfm.climate.intervals import effective_n, moving_block_bootstrap_difference


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


def _ar1(n, rho, rng):
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for t in range(1, n):
        x[t] = rho * x[t - 1] + np.sqrt(1 - rho**2) * rng.standard_normal()
    return x


def test_block_bootstrap_widens_for_autocorrelated_losses():
    rng = np.random.default_rng(0)
    d = _ar1(2000, 0.8, rng)
    diff, low, high = moving_block_bootstrap_difference(d, np.zeros_like(d), block=50)
    assert diff == pytest.approx(d.mean())
    _, low1, high1 = moving_block_bootstrap_difference(d, np.zeros_like(d), block=1)
    # the true standard error of an AR(1) mean is sqrt((1+rho)/(1-rho)) = 3x the iid one
    assert (high - low) / (high1 - low1) == pytest.approx(3.0, rel=0.25)
    assert effective_n(d) == pytest.approx(2000 * 0.2 / 1.8, rel=0.2)
    white = rng.standard_normal(2000)
    assert effective_n(white) == pytest.approx(2000, rel=0.1)
    segments = np.repeat([0, 1], 1000)
    _, lo_s, hi_s = moving_block_bootstrap_difference(d, np.zeros_like(d), 50, segments)
    assert lo_s < d.mean() < hi_s


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
