"""Pick metrics after SeisBench's pick-benchmark (Münchmeyer et al. 2022), on labelled windows.

- detection: ROC-AUC between event windows and noise windows of a per-window score (a model's highest event
  probability; STA/LTA's highest ratio);
- phase identification: at every labelled onset, the phase with the larger probability within +-`tolerance_s`;
  Matthews correlation coefficient (MCC) of P against S;
- onset: inside a search segment of `segment_s` around each labelled onset (at a seeded offset, the same for every
  method), the predicted onset is the probability maximum (models), the first trigger (STA/LTA) or the AIC minimum;
  residual RMSE and MAE in seconds.
A method that cannot do a task (STA/LTA and AIC do not identify phases; AIC gives no detection score) gets None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import matthews_corrcoef, roc_auc_score

from hfm.seismic.baselines import AicPicker, StaLtaPicker
from hfm.seismic.data.windows import LabelledWindows

ProbabilityFn = Callable[[np.ndarray], np.ndarray]  # (n, 3, T) -> (n, 3, T) P, S, noise


@dataclass(frozen=True)
class OnsetErrors:
    """RMSE and MAE in seconds of one phase's onset residuals; None where the method picked no onset of it."""

    rmse_s: float | None = None
    mae_s: float | None = None
    onsets: int = 0  # how many labelled onsets were searched

    @classmethod
    def of(cls, residuals: list[float]) -> OnsetErrors:
        if not residuals:
            return cls()
        r = np.asarray(residuals)
        return cls(float(np.sqrt(np.mean(r**2))), float(np.mean(np.abs(r))), len(residuals))


@dataclass
class PickScores:
    """One method's scores; a task the method cannot do stays None (`p`/`s`: no onsets searched)."""

    method: str
    detection_auc: float | None = None
    phase_mcc: float | None = None
    p: OnsetErrors = field(default_factory=OnsetErrors)
    s: OnsetErrors = field(default_factory=OnsetErrors)

    def as_row(self) -> dict[str, Any]:
        """One flat row, as `hfm seismic evaluate` writes it to evaluation.json (P onsets as `onsets`)."""
        return {
            "method": self.method,
            "detection_auc": self.detection_auc,
            "phase_mcc": self.phase_mcc,
            **{
                f"{phase}_{name}": getattr(errors, name)
                for phase, errors in (("p", self.p), ("s", self.s))
                for name in ("rmse_s", "mae_s")
            },
            "onsets": self.p.onsets,
        }


def search_segments(windows: LabelledWindows, phase: str, segment_s: float = 6.0, seed: int = 0) -> list[tuple]:
    """(window index, start, stop, true onset) per labelled onset; the onset sits at a seeded place in the segment."""
    rng = np.random.default_rng(seed)
    onsets = windows.p_sample if phase == "P" else windows.s_sample
    length = windows.waveforms.shape[-1]
    size = int(segment_s * windows.sampling_rate)
    out = []
    for index, onset in enumerate(onsets):
        if not np.isfinite(onset):
            continue
        start = int(onset - rng.uniform(0.2, 0.8) * size)
        start = min(max(start, 0), max(length - size, 0))
        out.append((index, start, min(start + size, length), float(onset)))
    return out


def _auc(scores: np.ndarray, is_event: np.ndarray) -> float | None:
    return float(roc_auc_score(is_event, scores)) if 0 < is_event.sum() < len(is_event) else None


def score_model(
    name: str, probabilities: np.ndarray, windows: LabelledWindows, tolerance_s: float = 0.5, seed: int = 0
) -> PickScores:
    """Scores of a model's per-sample P/S/noise probabilities (n, 3, T) on `windows`."""
    rate = windows.sampling_rate
    scores = PickScores(name, detection_auc=_auc(1.0 - probabilities[:, 2].min(axis=-1), windows.is_event))
    truth, predicted = [], []
    reach = int(tolerance_s * rate)
    for phase, label in (("P", 0), ("S", 1)):
        onsets = windows.p_sample if phase == "P" else windows.s_sample
        for index, onset in enumerate(onsets):
            if np.isfinite(onset):
                lo, hi = max(int(onset) - reach, 0), int(onset) + reach + 1
                p_peak, s_peak = probabilities[index, 0, lo:hi].max(), probabilities[index, 1, lo:hi].max()
                truth.append(label)
                predicted.append(0 if p_peak >= s_peak else 1)
    if len(set(truth)) == 2:
        scores.phase_mcc = float(matthews_corrcoef(truth, predicted))
    for phase, row in (("P", 0), ("S", 1)):
        residuals = [
            (start + int(np.argmax(probabilities[i, row, start:stop])) - onset) / rate
            for i, start, stop, onset in search_segments(windows, phase, seed=seed)
        ]
        if phase == "P":
            scores.p = OnsetErrors.of(residuals)
        else:
            scores.s = OnsetErrors.of(residuals)
    return scores


def score_stalta(picker: StaLtaPicker, windows: LabelledWindows, seed: int = 0) -> PickScores:
    rate = windows.sampling_rate
    detection = np.array([picker.detection_score(w, rate) for w in windows.waveforms])
    residuals = []
    for index, start, stop, onset in search_segments(windows, "P", seed=seed):
        cf = picker.characteristic(windows.waveforms[index, 0], rate)[start:stop]
        above = np.flatnonzero(cf >= picker.threshold)
        residuals.append((start + (above[0] if len(above) else int(np.argmax(cf))) - onset) / rate)
    return PickScores(picker.name, detection_auc=_auc(detection, windows.is_event), p=OnsetErrors.of(residuals))


def score_aic(picker: AicPicker, windows: LabelledWindows, seed: int = 0) -> PickScores:
    rate = windows.sampling_rate
    residuals = [
        (start + picker.onset(windows.waveforms[index, :, start:stop], rate) - onset) / rate
        for index, start, stop, onset in search_segments(windows, "P", seed=seed)
    ]
    return PickScores(picker.name, p=OnsetErrors.of(residuals))


def scores_table(rows: list[PickScores]) -> str:
    """Markdown table, one row per method."""

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [
        "| method | detection ROC-AUC | phase MCC | P RMSE (s) | P MAE (s) | S RMSE (s) | S MAE (s) | P onsets |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.method} | {fmt(r.detection_auc)} | {fmt(r.phase_mcc)} | {fmt(r.p.rmse_s)} | {fmt(r.p.mae_s)} | "
            f"{fmt(r.s.rmse_s)} | {fmt(r.s.mae_s)} | {r.p.onsets} |"
        )
    return "\n".join(lines)
