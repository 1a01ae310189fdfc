"""Confidence intervals and tests for benchmark figures: over seeds, paired over test units (with clusters), over
time series (moving blocks, Diebold-Mariano), over repeated cross-validation (Nadeau-Bengio), inside a bounded range."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
        # one unit per cluster (no clusters given): the draw is the index itself, no concatenation
        idx = chosen if clusters is None else np.concatenate([groups[c] for c in chosen])
        diffs[r] = stat(a[idx], idx) - stat(b[idx], idx)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return float(observed), float(low), float(high)


def _cluster_indices(clusters: Sequence[Any] | np.ndarray | None, n: int) -> list[np.ndarray]:
    if clusters is None:
        return list(np.arange(n)[:, None])
    labels = np.asarray(clusters)
    if labels.shape != (n,):
        raise ValueError(f"clusters must name one cluster per unit ({n}), got shape {labels.shape}")
    _, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")  # each cluster's units in their original order
    return np.split(order, np.cumsum(np.bincount(inverse))[:-1])


def effective_sample_size(
    values: Sequence[float] | np.ndarray, segments: Sequence[Any] | np.ndarray | None = None
) -> float:
    """n (1 - r) / (1 + r) with r the lag-1 autocorrelation: how many independent units a series is worth.

    The AR(1) approximation (the "effective sample size" of Wilks, Statistical Methods in the Atmospheric
    Sciences): the variance of the mean of an AR(1) series is that of n_eff independent values. A negative r is
    not credited (n_eff <= n), and a series is always worth at least one unit. `segments` as in
    `lag1_autocorrelation`.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"an effective sample size needs a 1-D series of at least 2 values, got shape {x.shape}")
    r = max(0.0, lag1_autocorrelation(x, segments))
    return float(max(1.0, x.size * (1 - r) / (1 + r)))


def lag1_autocorrelation(
    values: Sequence[float] | np.ndarray, segments: Sequence[Any] | np.ndarray | None = None
) -> float:
    """sum_t (x_t - m)(x_{t+1} - m) / sum_t (x_t - m)^2 (statsmodels' acf(x)[1]); 0 for a constant series.

    With `segments` (a label per value: a fold, a year of forecasts) only neighbours within one contiguous segment
    form pairs, and the sum is scaled by (n - 1) / pairs, so one segment gives the plain estimator.
    """
    x = np.asarray(values, dtype=np.float64)
    centred = x - x.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0:
        return 0.0
    if segments is None:
        return float(np.dot(centred[:-1], centred[1:]) / denominator)
    same = _segment_labels(segments, x.size)
    same = same[1:] == same[:-1]
    if not same.any():
        return 0.0
    pairs = float(np.dot(centred[:-1][same], centred[1:][same]))
    return pairs * (x.size - 1) / int(same.sum()) / denominator


def _segment_labels(segments: Sequence[Any] | np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(segments)
    if labels.shape != (n,):
        raise ValueError(f"segments must label every unit ({n}), got shape {labels.shape}")
    return labels


def block_length(values: Sequence[float] | np.ndarray, segments: Sequence[Any] | np.ndarray | None = None) -> int:
    """A block length for the moving-block bootstrap of a mean: the AR(1) plug-in of Politis & White (2004).

    b = (2 G^2 / D)^(1/3) n^(1/3) with, for an AR(1) series of lag-1 autocorrelation r and the circular block
    bootstrap's D = 4/3 g^2, G/g = 2 r / (1 - r^2): b = (6 r^2 / (1 - r^2)^2)^(1/3) n^(1/3). No autocorrelation
    gives blocks of one (the ordinary bootstrap); blocks never exceed n / 2.
    """
    x = np.asarray(values, dtype=np.float64)
    r = min(max(0.0, lag1_autocorrelation(x, segments)), 0.99)
    b = (6 * r**2 / (1 - r**2) ** 2) ** (1 / 3) * x.size ** (1 / 3)
    return int(min(max(1, math.ceil(b)), max(1, x.size // 2)))


def moving_block_bootstrap(
    hfm: Sequence[float] | np.ndarray,
    baseline: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], float] | None = None,
    block: int | None = None,
    circular: bool = True,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    segments: Sequence[Any] | np.ndarray | None = None,
) -> tuple[float, float, float]:
    """(difference, low, high): percentile moving-block bootstrap of statistic(hfm) - statistic(baseline).

    For paired scores in time order (forecasts hour by hour), where neighbours are correlated and the ordinary
    bootstrap's interval is too narrow. Each resample glues ceil(n / block) blocks of `block` consecutive units (the
    same blocks for both methods) and cuts it to n. `circular` (Politis & Romano 1992) wraps blocks around the end,
    so every unit is drawn equally often; without it (Kuensch 1989) blocks start in [0, n - block]. `segments`
    labels contiguous runs (cross-validation folds, separate years): a block never crosses from one into another
    (circular blocks wrap within their segment). The default block comes from `block_length` on the paired
    differences. Report `effective_sample_size` of the paired differences beside it as the figure's n_effective.
    `statistic(values, indices)` as in `paired_bootstrap`.
    """
    a = np.asarray(hfm, dtype=np.float64)
    b = np.asarray(baseline, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1 or a.size < 2:
        raise ValueError(f"paired series must be two 1-D arrays of one length >= 2, got {a.shape} and {b.shape}")
    n = a.size
    length = block_length(a - b, segments) if block is None else int(block)
    if not 1 <= length <= n:
        raise ValueError(f"block length must lie in [1, {n}], got {length}")
    first, size = _segment_bounds(segments, n)
    offsets = np.arange(length)
    if circular:
        starts_allowed = np.arange(n)
    else:
        starts_allowed = np.flatnonzero(np.arange(n) + length <= first + size)
        if starts_allowed.size == 0:
            raise ValueError(f"no segment holds a whole block of {length}: use a shorter block or circular=True")
    rng = np.random.default_rng(seed)
    starts = starts_allowed[rng.integers(0, starts_allowed.size, size=(n_resamples, math.ceil(n / length)))]
    # position k of a block starting at s, wrapped within the segment of s (a no-op for admissible plain blocks)
    idx = first[starts][..., None] + (starts[..., None] - first[starts][..., None] + offsets) % size[starts][..., None]
    idx = idx.reshape(n_resamples, -1)[:, :n]
    all_idx = np.arange(n)
    if statistic is None:  # the mean: vectorised, the difference of means is the mean of the differences
        d = a - b
        observed, diffs = float(d.mean()), d[idx].mean(axis=1)
    else:
        observed = statistic(a, all_idx) - statistic(b, all_idx)
        diffs = np.array([statistic(a[i], i) - statistic(b[i], i) for i in idx])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return float(observed), float(low), float(high)


def _segment_bounds(segments: Sequence[Any] | np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For every unit, the first index and the length of the contiguous segment it lies in (one segment: all)."""
    if segments is None:
        return np.zeros(n, dtype=np.int64), np.full(n, n, dtype=np.int64)
    labels = _segment_labels(segments, n)
    breaks = np.flatnonzero(labels[1:] != labels[:-1]) + 1
    run_starts = np.r_[0, breaks]
    run_sizes = np.diff(np.r_[run_starts, n])
    run_of = np.repeat(np.arange(run_starts.size), run_sizes)
    return run_starts[run_of], run_sizes[run_of]


@dataclass(frozen=True)
class HypothesisTest:
    """A test of hfm - baseline = 0: the estimate, its interval, the statistic and its two-sided p-value."""

    estimate: float  # the mean difference (of scores per fold, of losses per forecast)
    low: float
    high: float
    statistic: float
    p_value: float
    df: int
    n: int


def nadeau_bengio_ttest(
    differences: Sequence[float] | np.ndarray, n_train: int, n_test: int, confidence: float = 0.95
) -> HypothesisTest:
    """The corrected resampled t-test for repeated k-fold cross-validation (Nadeau & Bengio 2003, Machine Learning
    52:239, eq. for the "corrected resampled t"; Bouckaert & Frank 2004 for repeated k-fold).

    `differences` holds hfm's score minus the baseline's on each of the J = repeats x folds test folds, each fold
    trained on `n_train` units and tested on `n_test`. Folds share training data, so the plain t-test's variance
    s^2 / J is far too small; the correction uses (1/J + n_test/n_train) s^2, with t on J - 1 degrees of freedom.
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.size < 2:
        raise ValueError(f"the corrected t-test needs at least 2 fold differences, got shape {d.shape}")
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    j = d.size
    mean = float(d.mean())
    se = math.sqrt((1 / j + n_test / n_train) * d.var(ddof=1))
    return _t_result(mean, se, j - 1, j, confidence)


def diebold_mariano(
    errors_hfm: Sequence[float] | np.ndarray,
    errors_baseline: Sequence[float] | np.ndarray,
    horizon: int = 1,
    power: int = 2,
    confidence: float = 0.95,
) -> HypothesisTest:
    """Diebold-Mariano test of equal forecast accuracy with the Harvey-Leybourne-Newbold (1997) correction.

    d_t = |e_hfm,t|^power - |e_baseline,t|^power (power 2: squared error, 1: absolute error) for forecasts in time
    order; negative means hfm is more accurate. The variance of mean(d) takes the autocovariances up to lag h-1
    that h-step forecasts share (Diebold & Mariano 1995): V = (g_0 + 2 sum_{k<h} g_k) / n, g_k with divisor n.
    HLN multiply DM = mean(d) / sqrt(V) by sqrt((n + 1 - 2h + h(h-1)/n) / n) and compare it with Student's t on
    n - 1 degrees of freedom. The interval of mean(d) is the one this test inverts: mean(d) +- t * sqrt(V) / that
    factor. A negative V (possible for h > 1) leaves the statistic undefined (NaN).
    """
    e1 = np.asarray(errors_hfm, dtype=np.float64)
    e2 = np.asarray(errors_baseline, dtype=np.float64)
    if e1.shape != e2.shape or e1.ndim != 1 or e1.size < 3:
        raise ValueError(f"forecast errors must be two 1-D arrays of one length >= 3, got {e1.shape} and {e2.shape}")
    n = e1.size
    if not 1 <= horizon < n:
        raise ValueError(f"horizon must lie in [1, {n - 1}], got {horizon}")
    d = np.abs(e1) ** power - np.abs(e2) ** power
    centred = d - d.mean()
    autocov = [float(np.dot(centred[k:], centred[: n - k]) / n) for k in range(horizon)]
    variance = (autocov[0] + 2 * sum(autocov[1:])) / n
    correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
    se = math.sqrt(variance) / correction if variance >= 0 else math.nan
    return _t_result(float(d.mean()), se, n - 1, n, confidence)


def _t_result(mean: float, se: float, df: int, n: int, confidence: float) -> HypothesisTest:
    if se == 0:  # identical results on every unit: no evidence either way, an interval of width zero
        statistic, p = (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
        return HypothesisTest(mean, mean, mean, statistic, p, df, n)
    statistic = mean / se
    p = float(2 * stats.t.sf(abs(statistic), df))
    half = float(stats.t.ppf((1 + confidence) / 2, df) * se)
    return HypothesisTest(mean, mean - half, mean + half, float(statistic), p, df, n)


def bounded_mean_interval(
    values: Sequence[float] | np.ndarray, lower: float = 0.0, upper: float = 1.0, confidence: float = 0.95
) -> tuple[float, float, float]:
    """(mean, low, high) of a metric bounded to [lower, upper] (Dice, F1, AUC over seeds or units), inside its range.

    A Student-t interval on the logit scale, back-transformed: with p = (mean - lower) / (upper - lower), the
    standard error of logit(p) is, by the delta method, s / (sqrt(n) (upper - lower) p (1 - p)). For 0/1 values this
    is the logit interval of a binomial proportion (Brown, Cai & DasGupta 2001, Statistical Science 16:101) with n - 1
    and the t quantile; far from the bounds it matches `mean_confidence_interval`, near them it stays inside where
    the plain t interval crosses 1. One value, or a mean on a bound: the interval is (mean, mean) or NaN as below.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"no values for a bounded interval (shape {x.shape})")
    if upper <= lower:
        raise ValueError(f"bounds must satisfy lower < upper, got [{lower}, {upper}]")
    if np.any(x < lower) or np.any(x > upper):
        raise ValueError(f"values outside [{lower}, {upper}]: {x[(x < lower) | (x > upper)][:3].tolist()}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    width = upper - lower
    p = (mean - lower) / width
    s = float(x.std(ddof=1))
    if s == 0 or p <= 0 or p >= 1:  # every value equal (on a bound or not): nothing to spread
        return mean, mean, mean
    se_logit = s / (math.sqrt(x.size) * width * p * (1 - p))
    half = float(stats.t.ppf((1 + confidence) / 2, df=x.size - 1) * se_logit)
    centre = math.log(p / (1 - p))
    low, high = (lower + width / (1 + math.exp(-(centre + sign * half))) for sign in (-1, 1))
    return mean, float(low), float(high)
