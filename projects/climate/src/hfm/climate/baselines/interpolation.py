"""Temporal interpolation of gaps as linear maps: the window layout and the weights of each baseline.

A window of `window` steps holds a gap of hidden steps between two seen ends; with `context` c > 0 the c steps
before the first end and after the last end are seen too (the slope of the field on either side of the gap). Each
interpolator here fills every hidden step with one linear combination of the seen steps, the same at every grid
point, as (hidden, seen) weights: the straight line between the gap's ends (`line_weights`), cubic Hermite with
one-step end slopes (`hermite_weights`), or least squares on training windows (`fit_gap_weights`), which is also the
base that `models.InterpolatingMAE` corrects. With a `radius` r > 0 the least squares also weighs each seen step's
mean over the (2r + 1)^2 points around each point, less the point itself (`gap_features`): the same weights at every
point still, but a hidden hour can lean on its neighbourhood where one point's seen hours are noisy.
"""

from __future__ import annotations

import numpy as np


def gap_layout(window: int, context: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(seen, hidden) step indices of a window: the gap's ends and `context` steps beyond each are seen."""
    if window < 3 + 2 * context:
        raise ValueError(f"a window of {window} steps has no gap inside {context} context step(s) on each side")
    seen = np.r_[np.arange(context + 1), np.arange(window - 1 - context, window)]
    return seen, np.arange(context + 1, window - 1 - context)


def line_weights(window: int, context: int = 0) -> np.ndarray:
    """(hidden, seen) weights of the straight line in time between the gap's two ends (context weighted 0)."""
    seen, hidden = gap_layout(window, context)
    first, last = context, window - 1 - context
    w = (hidden - first) / (last - first)
    weights = np.zeros((hidden.size, seen.size))
    weights[:, context], weights[:, context + 1] = 1 - w, w
    return weights


def neighbourhood_mean(values: np.ndarray, radius: int) -> np.ndarray:
    """Mean over the (2 radius + 1)^2 points around each point of the last two axes, the edge rows and columns
    repeated beyond the grid (as `torch.nn.functional.pad(mode="replicate")`); NaN counts as 0, the climatology,
    as the model's standardised inputs do."""
    size = 2 * radius + 1
    height, width = values.shape[-2:]
    padded = np.pad(np.nan_to_num(values), [(0, 0)] * (values.ndim - 2) + [(radius, radius)] * 2, mode="edge")
    total = sum(padded[..., i : i + height, j : j + width] for i in range(size) for j in range(size))
    return total / size**2


def gap_features(seen_values: np.ndarray, radius: int = 0) -> np.ndarray:
    """(N, seen, ...) seen steps -> the base's inputs: the seen steps, and with `radius` > 0 after them each seen
    step's neighbourhood mean less the point ((N, 2 seen, ...))."""
    if not radius:
        return seen_values
    return np.concatenate([seen_values, neighbourhood_mean(seen_values, radius) - seen_values], axis=1)


def fit_gap_weights(
    anomalies: np.ndarray, starts: np.ndarray, window: int, context: int = 0, radius: int = 0
) -> np.ndarray:
    """Least squares (hidden, features) weights pooled over windows, variables and grid points: each hidden step's
    anomaly as one linear combination of the seen steps' anomalies (features = seen), and with `radius` > 0 of
    their neighbourhood means less the point too (features = 2 seen, `gap_features`). `anomalies` (T, V, H, W), any
    linear scale (anomalies or standardised anomalies give the same weights); points with a NaN in a window are
    left out."""
    seen, hidden = gap_layout(window, context)
    idx = np.asarray(starts)[:, None] + np.arange(window)[None, :]
    values = anomalies[idx].astype("float64")  # (N, window, V, H, W)
    inputs = np.moveaxis(gap_features(values[:, seen], radius), 1, -1).reshape(-1, seen.size * (2 if radius else 1))
    targets = np.moveaxis(values[:, hidden], 1, -1).reshape(-1, hidden.size)
    keep = np.isfinite(values).all(axis=1).reshape(-1)  # a point defined at every step of its window
    x, y = inputs[keep], targets[keep]
    return np.linalg.solve(x.T @ x, x.T @ y).T


def apply_gap_weights(weights: np.ndarray, seen_values: np.ndarray, radius: int = 0) -> np.ndarray:
    """(hidden, features) weights on (N, seen, ...) seen steps -> (N, hidden, ...) the filled hidden steps."""
    return np.einsum("kf,nf...->nk...", weights, gap_features(seen_values, radius))


# The per-point fit's ridge penalty toward the pooled weights, times the number of training windows: 1/16, the
# best of 1/16, 2/3 and 7 (about 30, 300 and 3000 for ~450 windows) on the four ERA5 folds' validation blocks.
POINTWISE_PENALTY = 1 / 16


def fit_pointwise_weights(
    anomalies: np.ndarray,
    starts: np.ndarray,
    window: int,
    context: int,
    radius: int,
    pooled: np.ndarray,
    penalty: float = POINTWISE_PENALTY,
) -> np.ndarray:
    """(V, H, W, hidden, features) least-squares weights of each grid point's own windows, shrunk toward the
    `pooled` (hidden, features) weights (`fit_gap_weights`) by a ridge penalty of `penalty` x the number of
    windows: the linear interpolator that may differ from point to point (coast, hills, sea), the same inputs as
    the pooled one. A point with a NaN in a window leaves that window out; with none left it keeps the pooled
    weights."""
    seen, hidden = gap_layout(window, context)
    idx = np.asarray(starts)[:, None] + np.arange(window)[None, :]
    values = anomalies[idx].astype("float64")  # (N, window, V, H, W)
    x = gap_features(values[:, seen], radius)  # (N, F, V, H, W)
    y = values[:, hidden]
    keep = np.isfinite(values).all(axis=1)  # (N, V, H, W)
    x, y = np.where(keep[:, None], x, 0.0), np.where(keep[:, None], y, 0.0)
    lam = penalty * len(starts) * np.eye(x.shape[1])
    gram = np.einsum("nfvhw,ngvhw->vhwfg", x, x) + lam
    rhs = np.einsum("nfvhw,nkvhw->vhwfk", x, y) + lam @ pooled.T
    return np.swapaxes(np.linalg.solve(gram, rhs), -1, -2)


def apply_pointwise_weights(weights: np.ndarray, seen_values: np.ndarray, radius: int = 0) -> np.ndarray:
    """(V, H, W, hidden, features) weights on (N, seen, V, H, W) seen steps -> (N, hidden, V, H, W)."""
    return np.einsum("vhwkf,nfvhw->nkvhw", weights, gap_features(seen_values, radius))


def hermite_weights(window: int, context: int) -> np.ndarray:
    """(hidden, seen) weights of cubic Hermite interpolation between the gap's ends, each end's slope the one-step
    difference into the context beyond it (needs context >= 1)."""
    seen, hidden = gap_layout(window, context)
    first, last = context, window - 1 - context
    t = (hidden - first) / (last - first)
    span = last - first  # slopes per step, scaled to the unit interval
    h00, h10, h01, h11 = 2 * t**3 - 3 * t**2 + 1, t**3 - 2 * t**2 + t, -2 * t**3 + 3 * t**2, t**3 - t**2
    weights = np.zeros((hidden.size, seen.size))
    before, a, b, after = context - 1, context, context + 1, context + 2  # positions in `seen`
    weights[:, a] += h00 + h10 * span
    weights[:, before] -= h10 * span
    weights[:, b] += h01 - h11 * span
    weights[:, after] += h11 * span
    return weights
