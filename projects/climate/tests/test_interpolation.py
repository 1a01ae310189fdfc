import numpy as np
import pytest
import torch

from hfm.climate.baselines.interpolation import (
    apply_gap_weights,
    fit_gap_weights,
    gap_layout,
    hermite_weights,
    line_weights,
    neighbourhood_mean,
)
from hfm.climate.models import InterpolatingMAE
from hfm.shared.models.registry import create_model


def test_gap_layout_sees_the_ends_and_the_context_beyond_them():
    seen, hidden = gap_layout(9, context=1)
    assert seen.tolist() == [0, 1, 7, 8] and hidden.tolist() == [2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="no gap"):
        gap_layout(4, context=1)


def test_line_and_hermite_weights_interpolate_a_straight_line_exactly():
    seen, hidden = gap_layout(9, context=1)
    line, cubic = line_weights(9, 1), hermite_weights(9, 1)
    assert line.shape == cubic.shape == (5, 4)
    np.testing.assert_allclose(line[:, [0, 3]], 0)  # the straight line ignores the context
    np.testing.assert_allclose(line[2], [0, 0.5, 0.5, 0])
    ramp = 3.0 + 0.7 * np.arange(9.0)
    for w in (line, cubic):
        np.testing.assert_allclose(w @ ramp[seen], ramp[hidden])
    # the Hermite curve bends with the slopes: a field rising into the gap and falling out of it peaks inside
    bump = np.array([0.0, 1.0, 1.0, 0.0])
    assert (cubic @ bump).max() > 1.2 and np.allclose(line @ bump, 1.0)


def test_fitted_weights_are_the_pooled_least_squares_solution():
    rng = np.random.default_rng(0)
    anomalies = rng.normal(size=(40, 1, 3, 4))
    anomalies[5, 0, 1, 2] = np.nan  # every window holding it loses that point only
    starts = np.arange(0, 31, 2)
    weights = fit_gap_weights(anomalies, starts, 9, context=1)
    seen, hidden = gap_layout(9, 1)
    rows = np.moveaxis(anomalies[starts[:, None] + np.arange(9)], 1, -1).reshape(-1, 9)
    rows = rows[np.isfinite(rows).all(axis=1)]
    assert rows.shape[0] == starts.size * 12 - 3  # the windows starting at 0, 2 and 4 lose one point each
    expected = np.linalg.lstsq(rows[:, seen], rows[:, hidden], rcond=None)[0].T
    np.testing.assert_allclose(weights, expected, rtol=1e-10, atol=1e-12)
    # noise-free data made by known weights are recovered exactly
    truth = np.array([[0.1, 0.6, 0.4, -0.1], [-0.2, 0.5, 0.7, 0.0], [0.0, 0.3, 0.3, 0.4]])
    x = rng.normal(size=(200, 4))
    series = np.zeros((200 * 7, 1, 1, 1))
    for i, row in enumerate(x):
        series[7 * i + np.array([0, 1, 5, 6]), 0, 0, 0] = row
        series[7 * i + np.array([2, 3, 4]), 0, 0, 0] = truth @ row
    np.testing.assert_allclose(fit_gap_weights(series, np.arange(200) * 7, 7, 1), truth, atol=1e-10)


def test_untrained_interpolator_with_context_is_its_base():
    torch.manual_seed(0)
    model = create_model("climate-interpolator", patch_lat=2, patch_lon=2, width=16, depth=1, heads=2,
                         climatology_channel=True, window=9, context=1)  # fmt: skip
    assert isinstance(model, InterpolatingMAE) and model.base_weights.shape == (5, 4)
    weights = torch.randn(5, 4)
    model.base_weights.copy_(weights)  # what a task copies in after the least-squares fit
    mask = model.hidden_mask((9, 2, 4, 4), batch=3)
    per_step = mask[0].reshape(9, 2, 4)  # (time, channel, patch): steps 2-6 of the field hidden, the rest seen
    assert per_step[2:7, 0].all() and not per_step[[0, 1, 7, 8], 0].any() and not per_step[:, 1].any()
    x = torch.randn(3, 9, 2, 4, 4)
    filled = model.reconstruct(x, model(x, mask))
    expected = torch.einsum("ks,bshw->bkhw", weights, x[:, [0, 1, 7, 8], 0])
    torch.testing.assert_close(filled[:, 2:7, 0], expected)
    torch.testing.assert_close(filled[:, [0, 1, 7, 8]], x[:, [0, 1, 7, 8]])
    torch.testing.assert_close(filled[:, :, 1], x[:, :, 1])  # the forcing passes through untouched
    assert set(model.state_dict()) >= {"base_weights"}  # saved with the weights, so an export replays the base
    with pytest.raises(ValueError, match="windows of 9 steps"):
        model.base(torch.randn(1, 7, 2, 4, 4))


def test_neighbourhood_mean_repeats_the_edges_and_reads_nan_as_zero():
    grid = np.arange(12.0).reshape(1, 3, 4)
    mean = neighbourhood_mean(grid, 1)
    assert mean[0, 1, 1] == pytest.approx(grid[0, :3, :3].mean())  # inside: the plain 3 x 3 mean
    corner = np.array([[0, 0, 1], [0, 0, 1], [4, 4, 5]], float)  # row and column 0 repeated beyond the grid
    assert mean[0, 0, 0] == pytest.approx(corner.mean())
    grid[0, 0, 0] = np.nan
    np.testing.assert_allclose(neighbourhood_mean(grid, 1)[0, 1, 1], np.nansum(grid[0, :3, :3]) / 9)


def test_neighbourhood_weights_are_recovered_and_the_model_base_applies_them():
    """Hidden steps made from the seen steps and their 3 x 3 means by known weights: least squares with radius 1
    recovers them exactly, and an interpolator holding them fills the gap as `apply_gap_weights` does."""
    rng = np.random.default_rng(1)
    seen, hidden = gap_layout(7, 1)
    truth = rng.normal(size=(hidden.size, 2 * seen.size))
    anomalies = np.zeros((60 * 7, 1, 5, 6))
    for i in range(60):
        x = rng.normal(size=(1, seen.size, 1, 5, 6))
        anomalies[7 * i + seen] = x[0]
        anomalies[7 * i + hidden] = apply_gap_weights(truth, x, radius=1)[0]
    weights = fit_gap_weights(anomalies, np.arange(60) * 7, 7, context=1, radius=1)
    assert weights.shape == (3, 8)
    np.testing.assert_allclose(weights, truth, atol=1e-9)
    # the neighbourhood carries real weight: without it the same data are not fitted exactly
    pointwise = fit_gap_weights(anomalies, np.arange(60) * 7, 7, context=1)
    assert pointwise.shape == (3, 4) and np.abs(pointwise - truth[:, :4]).max() > 0.01
    model = create_model("climate-interpolator", patch_lat=2, patch_lon=2, width=16, depth=1, heads=2,
                         window=7, context=1, radius=1)  # fmt: skip
    assert model.base_weights.shape == (3, 8)
    np.testing.assert_allclose(model.base_weights[:, 4:].numpy(), 0)  # the line until a fit fills the buffer
    model.base_weights.copy_(torch.from_numpy(weights).float())
    x = torch.randn(2, 7, 1, 6, 6)
    filled = model.base(x)[:, hidden, 0].numpy()
    expected = apply_gap_weights(weights, x[:, seen, 0].numpy(), radius=1)
    np.testing.assert_allclose(filled, expected, rtol=1e-5, atol=1e-5)


def test_weights_correction_starts_at_its_base_and_weighs_each_pixels_inputs():
    torch.manual_seed(0)
    model = create_model("climate-interpolator", patch_lat=2, patch_lon=2, width=16, depth=1, heads=2,
                         climatology_channel=True, window=9, context=1, radius=1, correction="weights")  # fmt: skip
    assert model.decoder_pred.weight.shape == (4 * 9, 32)  # 2 x 2 pixels x (4 seen + 4 neighbourhood + constant)
    model.base_weights.copy_(torch.randn(5, 8))
    x = torch.randn(3, 9, 2, 4, 6)
    mask = model.hidden_mask((9, 2, 4, 6), batch=3)
    base = model.base(x)
    torch.testing.assert_close(model.reconstruct(x, model(x, mask))[:, :, 0], base[:, :, 0])
    # coefficient 0.5 on the first seen step and 0.25 on the constant at every pixel: the correction is
    # 0.5 x[:, 0] + 0.25 at every point of every hidden step, whatever the decoder's tokens
    bias = torch.zeros(4, 9)
    bias[:, 0], bias[:, 8] = 0.5, 0.25
    with torch.no_grad():
        model.decoder_pred.bias.copy_(bias.reshape(-1))
    filled = model.reconstruct(x, model(x, mask))
    expected = base[:, 2:7, 0] + 0.5 * x[:, :1, 0] + 0.25
    torch.testing.assert_close(filled[:, 2:7, 0], expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(filled[:, [0, 1, 7, 8]], x[:, [0, 1, 7, 8]])
    assert model.decoder_pred.inputs is None  # the window's inputs are not kept after the call
    with pytest.raises(ValueError, match="needs the window length"):
        create_model("climate-interpolator", correction="weights")


def test_pointwise_weights_recover_each_points_own_interpolator_and_shrink_to_the_pooled():
    from hfm.climate.baselines.interpolation import apply_pointwise_weights, fit_pointwise_weights

    rng = np.random.default_rng(0)
    series = rng.normal(size=(7 * 300, 1, 1, 2))  # two points, each filling its gaps by its own weights
    own = rng.normal(size=(2, 3, 4))
    for i in range(300):
        for p in range(2):
            series[7 * i + np.array([2, 3, 4]), 0, 0, p] = own[p] @ series[7 * i + np.array([0, 1, 5, 6]), 0, 0, p]
    starts = np.arange(300) * 7
    pooled = fit_gap_weights(series, starts, 7, 1)
    free = fit_pointwise_weights(series, starts, 7, 1, 0, pooled, penalty=1e-9)
    assert free.shape == (1, 1, 2, 3, 4)
    np.testing.assert_allclose(free[0, 0], own, atol=1e-6)
    np.testing.assert_allclose(fit_pointwise_weights(series, starts, 7, 1, 0, pooled, penalty=1e9)[0, 0, 1], pooled,
                               atol=1e-6)  # fmt: skip
    filled = apply_pointwise_weights(free, series[starts[:5, None] + np.array([0, 1, 5, 6])])
    np.testing.assert_allclose(filled, series[starts[:5, None] + np.array([2, 3, 4])], atol=1e-6)


def test_per_point_base_fills_the_gap_as_the_pointwise_baseline_and_leaves_the_forcings():
    from hfm.climate.baselines.interpolation import apply_pointwise_weights

    torch.manual_seed(0)
    model = create_model("climate-interpolator", patch_lat=2, patch_lon=2, width=16, depth=1, heads=2,
                         climatology_channel=True, window=9, context=1, radius=1, correction="weights", grid_lat=4,
                         grid_lon=6)  # fmt: skip
    assert model.base_weights.shape == (1, 4, 6, 5, 8)  # variables, lat, lon, hidden, 4 seen + 4 neighbourhood
    line = torch.from_numpy(line_weights(9, 1)).float()
    torch.testing.assert_close(model.base_weights[0, 3, 5, :, :4], line)  # the line at every point until a fit
    weights = torch.randn(1, 4, 6, 5, 8)
    model.base_weights.copy_(weights)
    x = torch.randn(3, 9, 2, 4, 6)
    base = model.base(x)
    expected = apply_pointwise_weights(weights.double().numpy(), x[:, [0, 1, 7, 8], :1].double().numpy(), radius=1)
    np.testing.assert_allclose(base[:, 2:7, :1].numpy(), expected, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(base[:, :, 1], x[:, :, 1])  # the climatology channel passes through
    mask = model.hidden_mask((9, 2, 4, 6), batch=3)
    torch.testing.assert_close(model.reconstruct(x, model(x, mask)), base)  # a zero head: the base itself
    with pytest.raises(ValueError, match="grid"):
        model.base(torch.randn(1, 9, 2, 4, 5))


def test_ensemble_fills_with_its_members_mean():
    from hfm.climate.models import InterpolatorEnsemble

    members = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        member = create_model("climate-interpolator", patch_lat=2, patch_lon=2, width=16, depth=1, heads=2,
                              climatology_channel=True, window=9, context=1)  # fmt: skip
        torch.nn.init.normal_(member.decoder_pred.weight, std=0.3)
        members.append(member.eval())
    ensemble = InterpolatorEnsemble(members)
    assert ensemble.context == 1 and ensemble.radius == 0 and ensemble.encoder is members[0].encoder
    x = torch.randn(2, 9, 2, 4, 6)
    mask = ensemble.hidden_mask((9, 2, 4, 6), batch=2)
    with torch.no_grad():
        filled = ensemble.reconstruct(x, ensemble(x, mask))
        one, two = (m.reconstruct(x, m(x, mask)) for m in members)
    assert (one - two)[:, 2:7, 0].abs().mean() > 0.01  # two different corrections
    torch.testing.assert_close(filled, (one + two) / 2)
    with pytest.raises(ValueError, match="member"):
        InterpolatorEnsemble([])
