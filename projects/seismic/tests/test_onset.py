"""Onset rules (`hfm.seismic.baselines.onset`): the AIC search finds known onsets; peak rules; the dev choices."""

from __future__ import annotations

import numpy as np
import pytest

from hfm.seismic.baselines.onset import (
    PickRule,
    Refinement,
    aic_curve,
    choose_rule,
    peak_sample,
    record_picks,
    refine,
    tune_record_picks,
    window_onset,
)

RATE = 100.0


def _arrival(length: int, onset: int, seed: int, noise: float = 0.05, freq: float = 6.0) -> np.ndarray:
    """Gaussian noise with a decaying 6 Hz wavelet from `onset` on: a synthetic first arrival."""
    rng = np.random.default_rng(seed)
    trace = noise * rng.standard_normal(length)
    t = np.arange(length - onset) / RATE
    trace[onset:] += np.sin(2 * np.pi * freq * t) * np.exp(-t / 1.5)
    return trace


def _record(p: int, s: int, seed: int) -> np.ndarray:
    """Z with P at `p` (and S), N and E with only S at `s`, as a (3, N) record."""
    z = _arrival(3000, p, seed) + 0.5 * _arrival(3000, s, seed + 1, noise=0.0)
    n = _arrival(3000, s, seed + 2)
    e = _arrival(3000, s, seed + 3, freq=4.0)
    return np.stack([z, n, e])


def test_aic_minimum_is_the_variance_change() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([0.1 * rng.standard_normal(300), rng.standard_normal(200)])
    curve = aic_curve(x)
    assert np.isinf(curve[:2]).all() and np.isinf(curve[-1])
    assert abs(int(np.argmin(curve)) - 300) <= 2


@pytest.mark.parametrize("band", [None, (1.0, 20.0), (2.0, 30.0)])
def test_refine_finds_a_known_p_onset_within_two_samples(band: tuple[float, float] | None) -> None:
    wave = _record(p=1200, s=1800, seed=3)
    for guess in (1140.0, 1200.0, 1270.0):  # the network's peak 0.6 s early to 0.7 s late
        onset = refine(wave, guess, RATE, "P", Refinement(1.0, band))
        assert abs(onset - 1200) <= 2, (band, guess, onset)


def test_s_is_refined_on_the_horizontals_and_p_on_the_vertical() -> None:
    wave = _record(p=1000, s=1400, seed=5)
    rule = Refinement(0.5, None)
    assert abs(refine(wave, 1430.0, RATE, "S", rule) - 1400) <= 2
    assert abs(refine(wave, 970.0, RATE, "P", rule) - 1000) <= 2
    vertical_only = wave.copy()
    vertical_only[1:] = 0.0  # no horizontals: S falls back to the vertical, which also carries S here
    assert abs(refine(vertical_only, 1430.0, RATE, "S", rule) - 1400) <= 5  # S in the P coda: within 0.05 s


def test_no_refinement_and_missing_guesses_pass_through() -> None:
    wave = _record(p=1000, s=1400, seed=7)
    assert refine(wave, 1234.0, RATE, "P", Refinement.none()) == 1234.0
    assert np.isnan(refine(wave, np.nan, RATE, "P", Refinement(0.5)))
    assert refine(np.zeros((3, 3000)), 500.0, RATE, "P", Refinement(0.5)) == 500.0  # a flat record: no change
    assert Refinement.none().name == "none" and Refinement(0.5, (1.0, 20.0)).name == "AIC +-0.5 s, 1-20 Hz"


def test_peak_rules_take_the_maximum_or_the_earliest_strong_peak() -> None:
    t = np.arange(3000)
    probability = 0.5 * np.exp(-(((t - 800) / 10) ** 2)) + 0.9 * np.exp(-(((t - 1500) / 10) ** 2))
    assert peak_sample(probability, None) == 1500
    assert peak_sample(probability, 0.3) == 800  # 0.5 >= 0.3 * 0.9: the earlier peak is strong enough
    assert peak_sample(probability, 0.7) == 1500  # 0.5 < 0.63: it is not
    wave = _record(p=800, s=1500, seed=9)
    assert abs(window_onset(probability, wave, RATE, "P", PickRule(0.3, Refinement(0.5))) - 800) <= 2


def test_choose_rule_keeps_the_plain_maximum_on_ties_and_finds_the_better_rule() -> None:
    onsets = np.array([600.0, 900.0, 1200.0, 1500.0])
    waves = np.stack([_record(p=int(o), s=int(o) + 400, seed=i) for i, o in enumerate(onsets)])
    t = np.arange(3000)
    exact = np.stack([np.exp(-(((t - o) / 10) ** 2)) for o in onsets])
    rules = (PickRule(), PickRule(None, Refinement(0.5)), PickRule(0.3, Refinement(0.5)))
    rule, scores = choose_rule(exact, waves, onsets, RATE, "P", rules)
    assert rule == PickRule() and scores[PickRule().name] == 1.0  # every rule hits all: the first one stays
    # The network's maximum on S (400 samples late), a weaker peak 0.3 s late on P: only the earliest-peak rule
    # with refinement places every onset within 0.2 s.
    on_s = np.stack([0.6 * np.exp(-(((t - o - 30) / 10) ** 2)) + np.exp(-(((t - o - 400) / 10) ** 2)) for o in onsets])
    rule, scores = choose_rule(on_s, waves, onsets, RATE, "P", rules)
    assert rule == rules[2]
    assert scores[rules[0].name] == 0.0 and scores[rules[1].name] == 0.0 and scores[rules[2].name] == 1.0


def test_record_picks_are_refined_and_tuned_with_their_threshold() -> None:
    onsets = np.array([700.0, 1100.0, 1600.0])
    waves = [_record(p=int(o), s=int(o) + 500, seed=20 + i) for i, o in enumerate(onsets)]
    t = np.arange(3000)
    # Peaks 0.6 s late (outside the 0.5 s match) at 0.8, plus a false peak at 0.3 far from any onset.
    probabilities = [
        np.stack([0.8 * np.exp(-(((t - o - 60) / 10) ** 2)) + 0.3 * np.exp(-(((t - 2700) / 10) ** 2))] * 3)
        for o in onsets
    ]
    assert list(record_picks(probabilities[0][0], waves[0], RATE, "P", 0.5, Refinement.none())) == [760.0]
    refined = record_picks(probabilities[0][0], waves[0], RATE, "P", 0.5, Refinement(1.0))
    assert abs(refined[0] - 700) <= 2
    refinements = (Refinement.none(), Refinement(1.0))
    threshold, refinement, f1 = tune_record_picks(probabilities, waves, onsets, 0, RATE, "P", refinements)
    assert refinement == Refinement(1.0) and f1 == 1.0 and 0.3 <= threshold < 0.8
