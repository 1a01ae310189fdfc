"""Confidence intervals: over a few seeds, and paired intervals of hfm - baseline over test units."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats


def mean_confidence_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval of the mean, mean +- t_{(1+c)/2, n-1} * s / sqrt(n), s with n-1.

    With few seeds the t quantile (4.30 for n=3) rather than the normal 1.96 keeps the interval honest. With one
    value the interval is undefined and returned as NaN.
    """
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        raise ValueError("no values for a confidence interval")
    mean = float(data.mean())
    if data.size == 1:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf((1 + confidence) / 2, df=data.size - 1) * data.std(ddof=1) / math.sqrt(data.size))
    return mean, mean - half, mean + half


def format_interval(mean: float, low: float, high: float) -> str:
    """ "0.479 [0.251, 0.707]", or the mean alone where the interval is undefined (one value)."""
    return f"{mean:.3f}" if math.isnan(low) else f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def paired_bootstrap(
    hfm: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], float] | None = None,
    clusters: Sequence[Any] | np.ndarray | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(difference, low, high): percentile bootstrap of statistic(hfm) - statistic(baseline) over paired test units.

    `hfm[i]` and `baseline[i]` are the two methods' scores (or per-unit values) on test unit i; every resample draws
    the same units for both, so the interval is of the paired difference. `statistic(values, indices)` turns the
    per-unit values of one resample into the figure (default: the mean); pass a custom one for metrics that are not
    means (F1 over picks). With `clusters` (e.g. the event of each pick) whole clusters are resampled, so picks of one
    event never count as independent.
    """
    a = np.asarray(hfm, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"paired scores must be two 1-D arrays of one length, got {a.shape} and {b.shape}")
    stat = statistic or (lambda values, _idx: float(np.mean(values)))
    all_idx = np.arange(a.size)
    observed = stat(a, all_idx) - stat(b, all_idx)
    groups = _cluster_indices(clusters, a.size)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_resamples)
    for r in range(n_resamples):
        chosen = rng.integers(0, len(groups), size=len(groups))
        idx = np.concatenate([groups[c] for c in chosen])
        diffs[r] = stat(a[idx], idx) - stat(b[idx], idx)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return float(observed), float(low), float(high)


def _cluster_indices(clusters: Sequence[Any] | np.ndarray | None, n: int) -> list[np.ndarray]:
    if clusters is None:
        return [np.array([i]) for i in range(n)]
    labels = np.asarray(clusters)
    if labels.shape != (n,):
        raise ValueError(f"clusters must name one cluster per unit ({n}), got shape {labels.shape}")
    _, inverse = np.unique(labels, return_inverse=True)
    return [np.flatnonzero(inverse == k) for k in range(inverse.max() + 1)]
