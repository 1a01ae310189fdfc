"""Paired intervals for forecasts, whose errors are autocorrelated in time.

A forecast error series of monthly SST or hourly temperature is far from independent: resampling single forecasts
would give intervals several times too narrow. The moving-block bootstrap resamples blocks of consecutive forecasts
(about 6 months for SST, 2 days for hourly fields) of the paired loss difference, never across a fold boundary, and
the effective n is that of an AR(1) series with the observed lag-1 autocorrelation, n (1 - rho) / (1 + rho).
"""

from __future__ import annotations

import numpy as np


def effective_n(differences: np.ndarray, segments: np.ndarray | None = None) -> float:
    """n (1 - rho1) / (1 + rho1), rho1 the lag-1 autocorrelation within segments (folds); in [1, n]."""
    d = np.asarray(differences, dtype=np.float64)
    seg = np.zeros(d.size, int) if segments is None else np.asarray(segments)
    centred = d - d.mean()
    same = seg[1:] == seg[:-1]
    denominator = np.sum(centred**2)
    if d.size < 3 or denominator == 0:
        return float(d.size)
    rho = float(np.sum(centred[1:][same] * centred[:-1][same]) / denominator * d.size / max(1, same.sum()))
    rho = min(max(rho, 0.0), 0.999)
    return float(np.clip(d.size * (1 - rho) / (1 + rho), 1, d.size))


def moving_block_bootstrap_difference(
    hfm: np.ndarray,
    baseline: np.ndarray,
    block: int,
    segments: np.ndarray | None = None,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(mean difference hfm - baseline, low, high): moving-block bootstrap of the paired per-forecast losses.

    `segments` labels contiguous runs (folds) in time order; a block never spans two of them. Each resample draws
    blocks of `block` consecutive differences uniformly among all admissible starts until n values are taken.
    """
    d = np.asarray(hfm, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    if d.ndim != 1 or d.size == 0:
        raise ValueError(f"paired losses must be two 1-D arrays of one length, got {np.shape(hfm)}")
    seg = np.zeros(d.size, int) if segments is None else np.asarray(segments)
    block = int(max(1, min(block, d.size)))
    starts = [s for s in range(d.size - block + 1) if seg[s] == seg[s + block - 1]]
    if not starts:  # every segment shorter than a block: fall back to whole segments
        starts, block = [0], d.size
    starts = np.asarray(starts)
    offsets = np.arange(block)
    count = int(np.ceil(d.size / block))
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    for r in range(n_resamples):
        chosen = rng.choice(starts, size=count)
        means[r] = d[(chosen[:, None] + offsets[None, :]).ravel()[: d.size]].mean()
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(d.mean()), float(low), float(high)
