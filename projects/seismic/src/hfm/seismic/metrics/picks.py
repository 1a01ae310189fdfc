"""Pick metrics after SeisBench's pick benchmark (Münchmeyer et al. 2022), per phase, on analyst picks.

- Onset residuals: in an evaluation window holding one analyst pick (`records.pick_windows`), a model's onset is
  the maximum of its phase probability, a classic picker's is its pick; residual = predicted - analyst, in seconds.
  MAE and RMSE over the picks a method found; the share of analyst picks hit within 0.1, 0.2 and 0.5 s counts a
  missing pick as a miss.
- Picks on whole records: every pick a method makes on a whole record (models: peaks of the stitched probability
  above a threshold chosen on dev), matched one-to-one to the analyst pick of that phase within 0.5 s; precision,
  recall and F1 from the summed true positives, false positives and misses. Analyst catalogues are not exhaustive
  (a later aftershock on the same record is not picked), which costs every method the same precision.
- Detection: ROC-AUC of a per-window score between windows holding P and noise windows before P.
Intervals: paired bootstrap over events (`hfm.shared.eval.stats.paired_bootstrap`, clusters = event id).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import find_peaks
from sklearn.metrics import roc_auc_score

HIT_TOLERANCES_S = (0.1, 0.2, 0.5)
MATCH_S = 0.5


def match_counts(picks: list[float] | np.ndarray, onset: float, tolerance: float) -> tuple[int, int, int]:
    """(true positives, false positives, misses) of the picks on one record against its analyst onset (or NaN)."""
    picks = np.asarray(picks, dtype=float)
    if not np.isfinite(onset):
        return 0, len(picks), 0
    hit = len(picks) and np.abs(picks - onset).min() <= tolerance
    return (1, len(picks) - 1, 0) if hit else (0, len(picks), 1)


def prf(counts: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall, F1 of summed (TP, FP, FN) rows."""
    tp, fp, fn = np.asarray(counts, dtype=float).reshape(-1, 3).sum(axis=0)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def peaks(probability: np.ndarray, threshold: float, rate: float, separation_s: float = 1.0) -> np.ndarray:
    found, _ = find_peaks(probability, height=threshold, distance=max(1, int(separation_s * rate)))
    return found.astype(float)


def f1_at(probabilities: list[np.ndarray], onsets: np.ndarray, row: int, rate: float, threshold: float) -> float:
    """F1 of the peaks of one phase row above `threshold` on these records."""
    counts = [
        match_counts(peaks(p[row], threshold, rate), onset, MATCH_S * rate)
        for p, onset in zip(probabilities, onsets, strict=True)
    ]
    return prf(np.array(counts))[2]


def tune_threshold(
    probabilities: list[np.ndarray], onsets: np.ndarray, row: int, rate: float, grid: np.ndarray | None = None
) -> float:
    """The peak threshold of one phase row that maximises F1 on these (dev) records."""
    grid = np.round(np.arange(0.1, 0.91, 0.05), 2) if grid is None else grid
    best, best_f1 = float(grid[0]), -1.0
    for threshold in grid:
        counts = [
            match_counts(peaks(p[row], threshold, rate), onset, MATCH_S * rate)
            for p, onset in zip(probabilities, onsets, strict=True)
        ]
        f1 = prf(np.array(counts))[2]
        if f1 > best_f1:
            best, best_f1 = float(threshold), f1
    return best


@dataclass
class MethodScores:
    """What one method measured on the test records: per-pick residuals, per-record counts, detection scores."""

    name: str
    residuals: dict[str, np.ndarray] = field(default_factory=dict)  # phase -> seconds per analyst pick (NaN: none)
    counts: dict[str, np.ndarray] = field(default_factory=dict)  # phase -> (records, 3) TP FP FN
    detection: np.ndarray | None = None  # score per detection window
    thresholds: dict[str, float] = field(default_factory=dict)
    dev_f1: dict[str, float] = field(default_factory=dict)  # F1 on the dev records at the chosen settings
    rules: dict[str, dict[str, str]] = field(default_factory=dict)  # phase -> onset rules chosen on dev (models)

    def summary(self, is_event: np.ndarray | None = None) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for phase, res in self.residuals.items():
            found = res[np.isfinite(res)]
            out[f"{phase} MAE (s)"] = float(np.mean(np.abs(found))) if len(found) else None
            out[f"{phase} RMSE (s)"] = float(np.sqrt(np.mean(found**2))) if len(found) else None
            for tol in HIT_TOLERANCES_S:
                out[f"{phase} hit {tol:g} s"] = float(np.mean(np.nan_to_num(np.abs(res), nan=np.inf) <= tol))
        for phase, counts in self.counts.items():
            precision, recall, f1 = prf(counts)
            out[f"{phase} precision"], out[f"{phase} recall"], out[f"{phase} F1"] = precision, recall, f1
        if self.detection is not None and is_event is not None:
            out["detection ROC-AUC"] = float(roc_auc_score(is_event, self.detection))
        return out


def bootstrap_statistic(kind: str, tolerance: float = 0.0) -> Callable[[np.ndarray, np.ndarray], float]:
    """Statistic for `paired_bootstrap` over per-pick residuals: MAE, RMSE (over found picks) or hit share."""

    def stat(values: np.ndarray, _index: np.ndarray) -> float:
        if kind == "hit":
            return float(np.mean(np.nan_to_num(np.abs(values), nan=np.inf) <= tolerance))
        found = values[np.isfinite(values)]
        if not len(found):
            return np.nan
        return float(np.mean(np.abs(found))) if kind == "MAE" else float(np.sqrt(np.mean(found**2)))

    return stat


def f1_statistic(counts: np.ndarray) -> Callable[[np.ndarray, np.ndarray], float]:
    """Statistic for `paired_bootstrap` whose per-unit values are row indices into `counts` (TP, FP, FN)."""
    return lambda values, _index: prf(counts[values.astype(int)])[2]


def auc_statistic(is_event: np.ndarray, scores: np.ndarray) -> Callable[[np.ndarray, np.ndarray], float]:
    """Statistic whose per-unit values are indices into `scores` (both methods' scores stacked) and `is_event`."""

    def stat(values: np.ndarray, _index: np.ndarray) -> float:
        idx = values.astype(int)
        labels = is_event[idx % len(is_event)]
        if labels.all() or not labels.any():
            return np.nan
        return float(roc_auc_score(labels, scores[idx]))

    return stat
