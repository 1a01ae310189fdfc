"""Onset refinement: a picker locates a phase, a change-point search in a short window around its pick places it.

Two steps, each chosen on a dev split (never on the test set), both applied the same way to any probability picker:

1. Which peak (`PickRule.earliest`): in a window known to hold the phase, the probability maximum (SeisBench's
   rule), or the earliest peak reaching a fraction of that maximum. P precedes S and a picker trained on few labels
   often puts its P maximum on the S arrival (NCEDC dev: 11 of 40 hfm P maxima lie within 0.5 s of S); the first
   strong P peak is the first arrival.
2. Where exactly (`Refinement`): an AIC change-point search around that peak.

Neural pickers put their probability maximum near an arrival but not always on its first motion; production
pickers refine such a pick with an AIC search (Maeda 1985) on the trace itself. `refine` does that: in the window
`guess +- half_window_s` of the (optionally band-passed) trace it takes the sample that best splits the window into
two stretches of different variance. P is refined on the vertical, S on the horizontals (their AIC curves summed;
the vertical where a record has no horizontals). The window and band are chosen on a dev split
(`choose_rule`, `tune_record_picks`), and no refinement is always one of the candidates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfilt

from hfm.seismic.metrics.picks import MATCH_S, match_counts, peaks, prf

COMPONENTS = {"P": (0,), "S": (1, 2)}  # ZNE rows each phase is refined on


@dataclass(frozen=True)
class Refinement:
    """Half width of the search window in seconds (0: no refinement) and an optional causal band-pass."""

    half_window_s: float = 0.0
    band_hz: tuple[float, float] | None = None

    @classmethod
    def none(cls) -> Refinement:
        return cls()

    @property
    def name(self) -> str:
        if self.half_window_s <= 0:
            return "none"
        band = f", {self.band_hz[0]:g}-{self.band_hz[1]:g} Hz" if self.band_hz else ", raw"
        return f"AIC +-{self.half_window_s:g} s{band}"


def aic_curve(x: np.ndarray) -> np.ndarray:
    """Maeda's AIC of every split point k of `x`: k log var(x[:k]) + (n - k - 1) log var(x[k:]); both ends are
    +inf (a split needs two samples on each side)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    out = np.full(n, np.inf)
    if n < 5:
        return out
    c1, c2 = np.cumsum(x), np.cumsum(x * x)
    k = np.arange(2, n - 1)
    left = c2[k - 1] / k - (c1[k - 1] / k) ** 2
    right_n = n - k
    right = (c2[-1] - c2[k - 1]) / right_n - ((c1[-1] - c1[k - 1]) / right_n) ** 2
    tiny = 1e-12 * max(float(np.var(x)), 1e-30)  # a flat stretch would give log(0)
    out[k] = k * np.log(np.maximum(left, tiny)) + (n - k - 1) * np.log(np.maximum(right, tiny))
    return out


def filtered(wave: np.ndarray, rate: float, band_hz: tuple[float, float] | None) -> np.ndarray:
    """The trace(s) demeaned and, with a band, causally band-passed (4 poles): a causal filter does not smear
    energy ahead of the onset, as a zero-phase one does."""
    wave = np.asarray(wave, dtype=np.float64)
    wave = wave - wave.mean(axis=-1, keepdims=True)
    if band_hz is None:
        return wave
    high = min(band_hz[1], 0.45 * rate)
    sos = butter(4, (band_hz[0], high), btype="bandpass", fs=rate, output="sos")
    return sosfilt(sos, wave, axis=-1)


def refine(
    wave: np.ndarray, guess: float, rate: float, phase: str, refinement: Refinement, prepared: bool = False
) -> float:
    """The onset (samples) of `phase` near `guess` on a (3, N) record: the AIC minimum in the search window.
    `prepared`: `wave` is already `filtered(wave, rate, refinement.band_hz)` (filter a record once, refine many
    picks). Returns `guess` unchanged without refinement, for a NaN guess, or where no component holds data."""
    if refinement.half_window_s <= 0 or not np.isfinite(guess):
        return float(guess)
    data = wave if prepared else filtered(wave, rate, refinement.band_hz)
    half, centre = int(np.rint(refinement.half_window_s * rate)), int(np.rint(guess))
    lo, hi = max(0, centre - half), min(data.shape[-1], centre + half + 1)
    if hi - lo < 10:
        return float(guess)
    rows = [r for r in COMPONENTS[phase] if np.any(data[r, lo:hi] != 0)]
    if not rows:  # S on a vertical-only record: the vertical
        rows = [r for r in range(data.shape[0]) if np.any(data[r, lo:hi] != 0)]
    if not rows:
        return float(guess)
    total = sum(aic_curve(data[r, lo:hi]) for r in rows)
    if not np.isfinite(total).any():
        return float(guess)
    return float(lo + int(np.argmin(total)))


def refine_many(
    wave: np.ndarray, guesses: Sequence[float], rate: float, phase: str, refinement: Refinement
) -> np.ndarray:
    """`refine` for several picks on one record, filtering it once."""
    if refinement.half_window_s <= 0 or len(guesses) == 0:
        return np.asarray(guesses, dtype=float)
    data = filtered(wave, rate, refinement.band_hz)
    return np.array([refine(data, g, rate, phase, refinement, prepared=True) for g in guesses])


# Candidates the dev split chooses from: no refinement, or windows of +-0.25 to 1.5 s on raw or band-passed traces.
CANDIDATES: tuple[Refinement, ...] = (
    Refinement.none(),
    *(Refinement(w, band) for w in (0.25, 0.5, 1.0, 1.5) for band in (None, (1.0, 20.0), (2.0, 30.0))),
)


@dataclass(frozen=True)
class PickRule:
    """How a probability trace becomes one onset in a window: `earliest` None takes the maximum, a fraction f takes
    the maximum of the earliest run of samples at or above f times the maximum; then `refinement`."""

    earliest: float | None = None
    refinement: Refinement = Refinement()

    @property
    def name(self) -> str:
        peak = "maximum" if self.earliest is None else f"earliest peak >= {self.earliest:g} max"
        return f"{peak}, {self.refinement.name}"


def peak_sample(probability: np.ndarray, earliest: float | None) -> int:
    """The sample of the maximum, or of the maximum of the earliest run at or above `earliest` times it."""
    top = int(np.argmax(probability))
    if earliest is None:
        return top
    above = probability >= earliest * probability[top]
    start = int(np.argmax(above))
    stop = start + int(np.argmin(above[start:])) if not above[start:].all() else len(probability)
    return start + int(np.argmax(probability[start:stop]))


def window_onset(probability: np.ndarray, wave: np.ndarray, rate: float, phase: str, rule: PickRule) -> float:
    """One onset (samples) of `phase` in a window: the rule's peak, refined."""
    return refine(wave, float(peak_sample(probability, rule.earliest)), rate, phase, rule.refinement)


PEAK_RULES: tuple[float | None, ...] = (None, 0.3, 0.5, 0.7)
RULES: tuple[PickRule, ...] = tuple(PickRule(e, r) for e in PEAK_RULES for r in CANDIDATES)


def choose_rule(
    probabilities: np.ndarray,
    windows: np.ndarray,
    onsets: np.ndarray,
    rate: float,
    phase: str,
    rules: Sequence[PickRule] = RULES,
) -> tuple[PickRule, dict[str, float]]:
    """The rule with the highest share of dev picks within 0.2 s (ties: within 0.1 s, then the earlier rule, so the
    plain maximum without refinement wins ties), and each rule's dev share. `probabilities`: (n, samples) of the
    phase."""
    bands = {rule.refinement.band_hz for rule in rules if rule.refinement.half_window_s > 0}
    prepared = {band: [filtered(w, rate, band) for w in windows] for band in bands}  # each window filtered once
    guesses = {e: [float(peak_sample(p, e)) for p in probabilities] for e in {rule.earliest for rule in rules}}
    scores: dict[str, float] = {}
    best, best_key = rules[0], (-1.0, -1.0)
    for rule in rules:
        ref, guess = rule.refinement, guesses[rule.earliest]
        if ref.half_window_s > 0:
            pairs = zip(prepared[ref.band_hz], guess, strict=True)
            refined = np.array([refine(w, g, rate, phase, ref, prepared=True) for w, g in pairs])
        else:
            refined = np.array(guess)
        key = (hit_share(refined - onsets, rate, 0.2), hit_share(refined - onsets, rate, 0.1))
        scores[rule.name] = key[0]
        if key > best_key:
            best, best_key = rule, key
    return best, scores


def hit_share(residual_samples: np.ndarray, rate: float, tolerance_s: float) -> float:
    return float(np.mean(np.nan_to_num(np.abs(residual_samples), nan=np.inf) <= tolerance_s * rate))


def record_picks(
    probability: np.ndarray, wave: np.ndarray, rate: float, phase: str, threshold: float, refinement: Refinement
) -> np.ndarray:
    """Picks on a whole record: the peaks of one phase's probability above `threshold` (1 s apart), refined."""
    return refine_many(wave, peaks(probability, threshold, rate), rate, phase, refinement)


def tune_record_picks(
    probabilities: Sequence[np.ndarray],
    waves: Sequence[np.ndarray],
    onsets: np.ndarray,
    row: int,
    rate: float,
    phase: str,
    refinements: Sequence[Refinement] = CANDIDATES,
    grid: np.ndarray | None = None,
) -> tuple[float, Refinement, float]:
    """(threshold, refinement, F1) with the highest F1 of the record picks on these (dev) records; ties keep the
    earlier refinement (none first), then the lower threshold."""
    grid = np.round(np.arange(0.1, 0.91, 0.05), 2) if grid is None else grid
    bands = {r.band_hz for r in refinements if r.half_window_s > 0}
    prepared = {band: [filtered(w, rate, band) for w in waves] for band in bands}  # each record filtered once
    f1 = np.zeros((len(refinements), len(grid)))
    for j, threshold in enumerate(grid):
        found = [peaks(p[row], threshold, rate) for p in probabilities]  # the same peaks for every refinement
        for i, ref in enumerate(refinements):
            counts = []
            for k, (picks, onset) in enumerate(zip(found, onsets, strict=True)):
                if ref.half_window_s > 0:
                    wave = prepared[ref.band_hz][k]
                    picks = np.array([refine(wave, g, rate, phase, ref, prepared=True) for g in picks])
                counts.append(match_counts(picks, onset, MATCH_S * rate))
            f1[i, j] = prf(np.array(counts))[2]
    i, j = np.unravel_index(int(np.argmax(f1)), f1.shape)  # the first maximum in (refinement, threshold) order
    return float(grid[j]), refinements[i], float(f1[i, j])
