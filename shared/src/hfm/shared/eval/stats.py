"""Confidence intervals for results over a few seeds."""

from __future__ import annotations

import math
from collections.abc import Sequence

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
