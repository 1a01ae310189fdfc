"""hfm.shared.eval.stats against reference values: scipy, statsmodels, analytic results and the papers' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from hfm.shared.eval.stats import (
    block_length,
    bounded_mean_interval,
    diebold_mariano,
    effective_sample_size,
    format_interval,
    lag1_autocorrelation,
    mean_confidence_interval,
    moving_block_bootstrap,
    nadeau_bengio_ttest,
    paired_bootstrap,
)

Z975 = sps.norm.ppf(0.975)  # 1.959964


def ar1(n: int, phi: float, seed: int) -> np.ndarray:
    """x_t = phi x_{t-1} + e_t, e ~ N(0, 1), after a burn-in of 200 steps."""
    e = np.random.default_rng(seed).standard_normal(n + 200)
    x = np.zeros_like(e)
    for t in range(1, e.size):
        x[t] = phi * x[t - 1] + e[t]
    return x[200:]


def test_mean_confidence_interval_is_scipys_t_interval():
    values = [0.61, 0.74, 0.69]
    mean, low, high = mean_confidence_interval(values)
    ref = sps.t.interval(0.95, df=2, loc=np.mean(values), scale=sps.sem(values))
    assert (low, high) == pytest.approx(ref) and mean == pytest.approx(0.68)
    assert format_interval(mean, low, high) == f"0.680 [{ref[0]:.3f}, {ref[1]:.3f}]"
    assert math.isnan(mean_confidence_interval([0.5])[1])


def test_paired_bootstrap_matches_the_normal_theory_interval_on_a_large_sample():
    # 4000 paired units, differences ~ N(0.1, 1): the percentile bootstrap of the mean difference converges to
    # mean +- 1.96 s / sqrt(n) (central limit theorem); with 10000 resamples the Monte Carlo error of each end is
    # ~1.3% of the half-width, so 5% is a 4-sigma tolerance.
    rng = np.random.default_rng(7)
    baseline = rng.standard_normal(4000)
    hfm = baseline + 0.1 + rng.standard_normal(4000)
    d = hfm - baseline
    diff, low, high = paired_bootstrap(hfm, baseline, n_resamples=10000)
    half = Z975 * d.std(ddof=1) / math.sqrt(d.size)
    assert diff == pytest.approx(d.mean())
    assert low == pytest.approx(d.mean() - half, abs=0.05 * half)
    assert high == pytest.approx(d.mean() + half, abs=0.05 * half)
    assert paired_bootstrap(hfm, baseline, n_resamples=10000) == (
        diff,
        low,
        high,
    )  # seeded: the same interval every run


def test_paired_bootstrap_resamples_whole_clusters():
    # 200 events with 5 picks each, the 5 picks of an event identical: the picks are worth 200 units, not 1000.
    # Resampling events gives the normal-theory interval of 200 event means; resampling picks one sqrt(5) narrower.
    rng = np.random.default_rng(3)
    event_scores = rng.standard_normal(200) + 0.2
    hfm, baseline = np.repeat(event_scores, 5), np.zeros(1000)
    events = np.repeat(np.arange(200), 5)
    _, low, high = paired_bootstrap(hfm, baseline, clusters=events)
    _, naive_low, naive_high = paired_bootstrap(hfm, baseline)
    expected = 2 * Z975 * event_scores.std(ddof=1) / math.sqrt(200)
    assert high - low == pytest.approx(expected, rel=0.1)
    assert (high - low) / (naive_high - naive_low) == pytest.approx(math.sqrt(5), rel=0.1)
    with pytest.raises(ValueError, match="one cluster per unit"):
        paired_bootstrap(hfm, baseline, clusters=events[:-1])


def test_paired_bootstrap_with_a_statistic_that_is_not_a_mean():
    # F1 over picks: each unit is (true positive, false positive, false negative) packed as one code; the statistic
    # sees the resampled codes and indices. The observed difference is exactly F1(hfm) - F1(baseline).
    def f1(codes: np.ndarray, _idx: np.ndarray) -> float:
        tp, fp, fn = (np.sum(codes == k) for k in (0, 1, 2))
        return 2 * tp / (2 * tp + fp + fn)

    hfm = np.array([0] * 80 + [1] * 10 + [2] * 10, dtype=float)  # F1 = 160 / 180
    baseline = np.array([0] * 60 + [1] * 20 + [2] * 20, dtype=float)  # F1 = 120 / 160
    diff, low, high = paired_bootstrap(hfm, baseline, statistic=f1, n_resamples=500)
    assert diff == pytest.approx(160 / 180 - 120 / 160)
    assert low < diff < high and low >= -1 and high <= 1


def test_moving_block_bootstrap_recovers_the_long_run_variance_of_an_ar1_mean():
    # AR(1) with phi = 0.6 and unit innovations: Var(mean) -> 1 / ((1 - phi)^2 n), the long-run variance sigma^2 /
    # (1 - phi)^2 over n; the i.i.d. formula gamma_0 / n = 1 / ((1 - phi^2) n) is (1 + phi) / (1 - phi) = 4 times
    # smaller. Averaged over 20 series of 1000 steps, the block bootstrap's width is within 15% of 2 * 1.96 * the
    # long-run standard error (finite blocks underestimate it slightly); the ordinary bootstrap (block 1) lands on
    # the i.i.d. value, half as wide.
    n, phi = 1000, 0.6
    analytic = 2 * Z975 / ((1 - phi) * math.sqrt(n))
    blocks, iid = [], []
    for seed in range(20):
        x = ar1(n, phi, seed)
        _, low, high = moving_block_bootstrap(x, np.zeros(n), seed=seed, n_resamples=1000)
        blocks.append(high - low)
        _, low, high = moving_block_bootstrap(x, np.zeros(n), block=1, seed=seed, n_resamples=1000)
        iid.append(high - low)
    assert np.mean(blocks) == pytest.approx(analytic, rel=0.15)
    iid_analytic = 2 * Z975 / math.sqrt((1 - phi**2) * n)
    assert np.mean(iid) == pytest.approx(iid_analytic, rel=0.1)


def test_moving_block_bootstrap_variants_and_errors():
    x = ar1(300, 0.5, 1)
    y = x + 0.1 + 0.2 * np.random.default_rng(2).standard_normal(300)
    circular = moving_block_bootstrap(y, x, block=10)
    plain = moving_block_bootstrap(y, x, block=10, circular=False)
    median = moving_block_bootstrap(y, x, block=10, statistic=lambda v, _i: float(np.median(v)), n_resamples=300)
    assert circular[0] == plain[0] == pytest.approx(np.mean(y - x))
    assert circular[1] < circular[0] < circular[2] and plain[1] < plain[0] < plain[2]
    assert median[0] == pytest.approx(np.median(y) - np.median(x))
    with pytest.raises(ValueError, match=r"block length must lie in \[1, 300\]"):
        moving_block_bootstrap(y, x, block=301)


def test_effective_sample_size_and_block_length():
    x = ar1(5000, 0.6, 4)
    from statsmodels.tsa.stattools import acf

    assert lag1_autocorrelation(x) == pytest.approx(acf(x, nlags=1)[1], rel=1e-12)
    r = lag1_autocorrelation(x)
    assert effective_sample_size(x) == pytest.approx(5000 * (1 - r) / (1 + r))
    assert effective_sample_size(x) == pytest.approx(5000 * 0.4 / 1.6, rel=0.1)  # the AR(1) value n(1-phi)/(1+phi)
    white = np.random.default_rng(0).standard_normal(5000)
    assert effective_sample_size(white) == pytest.approx(5000, rel=0.05)
    alternating = np.tile([1.0, -1.0], 50)  # r = -0.99: not credited beyond n
    assert effective_sample_size(alternating) == 100
    # Politis & White's AR(1) plug-in: (6 r^2 / (1 - r^2)^2)^(1/3) n^(1/3), rounded up
    assert block_length(x) == math.ceil((6 * r**2 / (1 - r**2) ** 2) ** (1 / 3) * 5000 ** (1 / 3))
    assert block_length(white[:100]) <= 2


def test_nadeau_bengio_by_hand_from_the_papers_formula():
    # One 10-fold CV of 1000 units: n_train = 900, n_test = 100, J = 10 fold differences of accuracy.
    # mean = 0.025; sum of squared deviations = 4250e-6, s^2 = 4250e-6 / 9 = 472.2e-6;
    # corrected variance (1/J + n_test/n_train) s^2 = (0.1 + 0.1111) * 472.2e-6 = 99.69e-6, se = 0.009985;
    # t = 0.025 / 0.009985 = 2.5039 on 9 df; the uncorrected t would be 3.638 (scipy's ttest_1samp).
    d = [0.02, 0.05, -0.01, 0.03, 0.04, 0.00, 0.06, 0.01, 0.02, 0.03]
    result = nadeau_bengio_ttest(d, n_train=900, n_test=100)
    se = math.sqrt((1 / 10 + 100 / 900) * 4250e-6 / 9)
    assert result.estimate == pytest.approx(0.025)
    assert result.statistic == pytest.approx(0.025 / se) and result.statistic == pytest.approx(2.5039, abs=1e-4)
    assert result.p_value == pytest.approx(2 * sps.t.sf(0.025 / se, 9)) and result.p_value == pytest.approx(
        0.0336, abs=1e-4
    )
    assert (result.low, result.high) == pytest.approx(
        (0.025 - sps.t.ppf(0.975, 9) * se, 0.025 + sps.t.ppf(0.975, 9) * se)
    )
    assert result.df == 9 and result.n == 10
    # with a vanishing test fraction the correction disappears: scipy's one-sample t-test
    plain = sps.ttest_1samp(d, 0)
    limit = nadeau_bengio_ttest(d, n_train=10**12, n_test=1)
    assert limit.statistic == pytest.approx(plain.statistic) and limit.p_value == pytest.approx(plain.pvalue)
    with pytest.raises(ValueError, match="at least 2 fold differences"):
        nadeau_bengio_ttest([0.1], 9, 1)


def test_diebold_mariano_with_hln_correction_against_scipy_and_statsmodels_hac():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    n = 60
    e_hfm = rng.standard_normal(n)
    e_base = 1.3 * rng.standard_normal(n) + 0.4 * np.r_[0.0, e_hfm[:-1]]
    d = e_hfm**2 - e_base**2
    # h = 1: V = g_0 / n and the HLN factor sqrt((n - 1) / n) turn DM into the one-sample t-test of d (scipy)
    one = diebold_mariano(e_hfm, e_base, horizon=1)
    ref = sps.ttest_1samp(d, 0)
    assert one.statistic == pytest.approx(ref.statistic) and one.p_value == pytest.approx(ref.pvalue)
    assert one.estimate == pytest.approx(d.mean()) and one.df == n - 1
    # h = 3: the variance of mean(d) is statsmodels' HAC variance of a regression on a constant with the uniform
    # (truncated) kernel up to lag h - 1 and no small-sample correction; HLN's factor on top.
    h = 3
    fit = sm.OLS(d, np.ones((n, 1))).fit(
        cov_type="HAC", cov_kwds={"maxlags": h - 1, "kernel": "uniform", "use_correction": False}
    )
    dm = d.mean() / math.sqrt(fit.cov_params()[0, 0])
    hln = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    three = diebold_mariano(e_hfm, e_base, horizon=h)
    assert three.statistic == pytest.approx(hln) and three.p_value == pytest.approx(2 * sps.t.sf(abs(hln), n - 1))
    for result in (one, three):  # the interval is the one the test inverts: it excludes 0 exactly when p < 0.05
        assert (result.high < 0 or result.low > 0) == (result.p_value < 0.05)
    absolute = diebold_mariano(e_hfm, e_base, power=1)
    assert absolute.estimate == pytest.approx(np.mean(np.abs(e_hfm) - np.abs(e_base)))
    same = diebold_mariano(e_hfm, e_hfm)
    assert (same.statistic, same.p_value, same.low, same.high) == (0.0, 1.0, 0.0, 0.0)


def test_bounded_interval_is_the_logit_interval_and_stays_inside_the_range():
    # 0/1 values, 40 of 50: the logit interval of a proportion (Brown, Cai & DasGupta 2001), logit(0.8) +-
    # t_{0.975, 49} / sqrt((n - 1) p (1 - p)), back-transformed.
    x = np.r_[np.ones(40), np.zeros(10)]
    mean, low, high = bounded_mean_interval(x)
    half = sps.t.ppf(0.975, 49) / math.sqrt(49 * 0.8 * 0.2)
    expit = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    assert mean == pytest.approx(0.8)
    assert (low, high) == pytest.approx((expit(math.log(4) - half), expit(math.log(4) + half)))
    assert (low, high) == pytest.approx((0.6612, 0.8913), abs=1e-4)
    # far from the bounds: the plain t interval; near them: inside [0, 1] where the plain one crosses 1
    middle = [0.4, 0.5, 0.6, 0.45, 0.55]
    assert bounded_mean_interval(middle)[1:] == pytest.approx(mean_confidence_interval(middle)[1:], abs=0.002)
    dice = [0.97, 0.99, 0.995]
    assert mean_confidence_interval(dice)[2] > 1
    mean, low, high = bounded_mean_interval(dice)
    assert 0 < low < mean < high < 1
    # another range: a correlation in [-1, 1]
    r = [0.95, 0.99, 0.97]
    assert mean_confidence_interval(r)[2] > 1 and -1 < bounded_mean_interval(r, lower=-1, upper=1)[2] < 1
    assert bounded_mean_interval([1.0, 1.0, 1.0]) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"values outside \[0.0, 1.0\]"):
        bounded_mean_interval([0.5, 1.2])


def test_blocks_never_cross_a_segment_boundary():
    # two folds of 10 forecasts, blocks of 10 without wrapping: every resample is two whole folds, so its mean is
    # fold A's, fold B's or their average, and nothing in between
    d = np.r_[np.linspace(0.0, 1.0, 10), np.linspace(3.0, 5.0, 10)]
    folds = np.repeat(["a", "b"], 10)
    means = {d[:10].mean(), d[10:].mean(), d.mean()}
    _, low, high = moving_block_bootstrap(d, np.zeros(20), block=10, circular=False, segments=folds)
    assert min(abs(low - m) for m in means) < 1e-12 and min(abs(high - m) for m in means) < 1e-12
    with pytest.raises(ValueError, match="no segment holds a whole block of 11"):
        moving_block_bootstrap(d, np.zeros(20), block=11, circular=False, segments=folds)
    # circular blocks wrap within their own fold: every block of 4 indices lies in one fold
    seen = []

    def record(values: np.ndarray, idx: np.ndarray) -> float:
        seen.append(idx)
        return float(values.mean())

    moving_block_bootstrap(d, np.zeros(20), statistic=record, block=4, segments=folds, n_resamples=50)
    blocks = np.concatenate([i[: 4 * (i.size // 4)].reshape(-1, 4) for i in seen[2:]])  # [2:]: the observed calls
    assert np.all((blocks < 10).all(axis=1) | (blocks >= 10).all(axis=1))
    assert {tuple(b) for b in blocks} >= {(8, 9, 0, 1), (18, 19, 10, 11)}  # wrapped, not (8, 9, 10, 11)


def test_lag1_autocorrelation_within_segments_by_hand():
    x = np.array([1.0, 2.0, 3.0, 10.0, 11.0, 12.0])  # mean 6.5, deviations -5.5 -4.5 -3.5 3.5 4.5 5.5
    # within-fold pairs (0,1) (1,2) (3,4) (4,5): 24.75 + 15.75 + 15.75 + 24.75 = 81; sum of squares 2 (30.25 +
    # 20.25 + 12.25) = 125.5; scaled by (n - 1) / pairs = 5 / 4: r = 81 * 1.25 / 125.5
    assert lag1_autocorrelation(x, segments=[0, 0, 0, 1, 1, 1]) == pytest.approx(81 * 1.25 / 125.5)
    assert lag1_autocorrelation(x, segments=np.zeros(6)) == pytest.approx(lag1_autocorrelation(x))
    assert effective_sample_size(x, segments=[0, 0, 0, 1, 1, 1]) == 1.0  # r > 0.7: floored at one unit
    with pytest.raises(ValueError, match=r"segments must label every unit \(6\)"):
        lag1_autocorrelation(x, segments=[0, 1])
