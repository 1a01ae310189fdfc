"""A picker-free check of a reference pick: is there an energy onset at it, and how far from it does it start?

Used for issue 14's audit of the DFDP analyst picks (docs/seismic-dfdp-audit.md); it needs no model and no picker,
only the record as curated (a (3, npts) ZNE array at `rate`) and the pick's sample:

- `energy_ratio`: log10 of the mean power in `after` seconds from a sample over the mean power in `before` seconds
  up to it, on the 2-20 Hz band (the vertical for P, the horizontals' sum for S);
- the onset: the sample of the Akaike minimum (`baselines.onset.aic_curve`, Maeda's form, the one the pickers'
  onset rules use) in a window around the pick, the usual way to place an onset on a trace without a model;
- `audit_pick`: both, plus the ratio at random samples of the same record away from its picks (what noise and
  coda give) so that "an onset" is judged against the record itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hfm.seismic.baselines.onset import aic_curve, filtered

CLEAR = float(np.log10(4.0))  # a 6 dB power step: an onset anyone would see on the trace
NONE = float(np.log10(2.0))  # under 3 dB: nothing there


def band(waveforms: np.ndarray, rate: float, low: float = 2.0, high: float = 20.0) -> np.ndarray:
    """Causal band-pass (4 poles) per row: a causal filter never moves energy before the onset."""
    return filtered(np.nan_to_num(np.asarray(waveforms, dtype=np.float64)), rate, (low, high))


def phase_trace(traces: np.ndarray, phase: str) -> np.ndarray:
    """The vertical for P; for S the horizontals' amplitude (the vertical when there are none)."""
    horizontals = traces[1:3]
    if phase == "S" and np.any(horizontals):
        return np.sqrt(np.sum(horizontals**2, axis=0))
    return traces[0]


def energy_ratio(x: np.ndarray, index: int, rate: float, before: float = 1.0, after: float = 0.5) -> float:
    """log10(power in [index, index + after) / power in [index - before, index)); NaN where a window leaves x."""
    nb, na = round(before * rate), round(after * rate)
    if index - nb < 0 or index + na > len(x):
        return float("nan")
    noise = np.mean(x[index - nb : index] ** 2)
    return float(np.log10(np.mean(x[index : index + na] ** 2) / max(noise, 1e-30)))


@dataclass
class PickAudit:
    ratio_at_pick: float  # energy_ratio at the pick's sample
    best_ratio: float  # its maximum over [pick - 0.05 s, pick + 0.3 s]
    onset_offset_s: float  # AIC onset minus pick, seconds (positive: the trace's onset is after the pick)
    noise_p99: float  # 99th percentile of energy_ratio at random samples >= 3 s from every pick of the record

    @property
    def verdict(self) -> str:
        """clear (>= 6 dB step near the pick), none (< 3 dB), or weak."""
        if self.best_ratio >= CLEAR:
            return "clear"
        return "none" if not self.best_ratio >= NONE else "weak"


def audit_pick(
    waveforms: np.ndarray,
    sample: int,
    phase: str,
    rate: float,
    other_picks: tuple[int, ...] = (),
    half_window_s: float = 0.5,
    seed: int = 0,
) -> PickAudit:
    """The checks above for one pick of one record; `other_picks` (samples) bound a P's AIC window before the S."""
    x = phase_trace(band(waveforms, rate), phase)
    lo = max(sample - round(half_window_s * rate), 0)
    hi = min(sample + round(half_window_s * rate), len(x))
    later = [p for p in other_picks if p > sample]
    if phase == "P" and later:
        hi = min(hi, min(later) - round(0.05 * rate))
    onset = lo + int(np.argmin(aic_curve(x[lo:hi]))) if hi - lo >= 5 else sample
    near = range(sample - round(0.05 * rate), sample + round(0.3 * rate) + 1)
    best = np.nanmax([energy_ratio(x, j, rate) for j in near] + [-np.inf])
    picks = (sample, *other_picks)
    rng = np.random.default_rng(seed)
    candidates = rng.integers(round(1.0 * rate), max(len(x) - round(0.5 * rate), round(1.0 * rate) + 1), 400)
    away = [j for j in candidates if all(abs(j - p) > 3 * rate for p in picks)][:200]
    noise = [energy_ratio(x, int(j), rate) for j in away]
    return PickAudit(
        ratio_at_pick=energy_ratio(x, sample, rate),
        best_ratio=float(best),
        onset_offset_s=(onset - sample) / rate,
        noise_p99=float(np.nanpercentile(noise, 99)) if noise else float("nan"),
    )
