"""Temporal interpolation of gaps as linear maps: the window layout and the weights of each baseline.

A window of `window` steps holds a gap of hidden steps between two seen ends; with `context` c > 0 the c steps
before the first end and after the last end are seen too (the slope of the field on either side of the gap). Each
interpolator here fills every hidden step with one linear combination of the seen steps, the same at every grid
point, as (hidden, seen) weights: the straight line between the gap's ends (`line_weights`), cubic Hermite with
one-step end slopes (`hermite_weights`), or least squares on training windows (`fit_gap_weights`), which is also the
base that `models.InterpolatingMAE` corrects.
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


def fit_gap_weights(anomalies: np.ndarray, starts: np.ndarray, window: int, context: int = 0) -> np.ndarray:
    """Least squares (hidden, seen) weights pooled over windows, variables and grid points: each hidden step's
    anomaly as one linear combination of the seen steps' anomalies. `anomalies` (T, V, H, W), any linear scale
    (anomalies or standardised anomalies give the same weights); points with a NaN in a window are left out."""
    seen, hidden = gap_layout(window, context)
    idx = np.asarray(starts)[:, None] + np.arange(window)[None, :]
    values = anomalies[idx].astype("float64")  # (N, window, V, H, W)
    values = np.moveaxis(values, 1, -1).reshape(-1, window)
    values = values[np.isfinite(values).all(axis=1)]
    x, y = values[:, seen], values[:, hidden]
    return np.linalg.solve(x.T @ x, x.T @ y).T


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
