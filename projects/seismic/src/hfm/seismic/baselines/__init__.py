"""Classic pickers from obspy.signal, scored with the same interface as the neural models.

- STA/LTA (Allen 1978 recursive form, `obspy.signal.trigger.recursive_sta_lta`) on the vertical component: the peak
  of the characteristic function is the detection score; the onset is the first sample where it crosses the trigger
  threshold (or its maximum when it never does).
- AIC (Maeda 1985, `obspy.signal.trigger.aic_simple`) on the vertical component: the onset is the AIC minimum.
  AIC always finds a minimum, so it gives no detection score.
Neither identifies the phase: they take part in detection and onset timing, not in P/S identification.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from obspy.signal.filter import bandpass
from obspy.signal.trigger import aic_simple, recursive_sta_lta


@dataclass
class StaLtaPicker:
    sta_s: float = 0.2  # local events in 10 s windows: short windows, so the LTA warms up before most P waves
    lta_s: float = 2.0
    threshold: float = 3.0
    band_hz: tuple[float, float] = (1.0, 20.0)
    name: str = "STA/LTA"

    def characteristic(self, vertical: np.ndarray, rate: float) -> np.ndarray:
        trace = _filtered(vertical, rate, self.band_hz)
        return recursive_sta_lta(trace, max(1, int(self.sta_s * rate)), max(2, int(self.lta_s * rate)))

    def detection_score(self, waveform: np.ndarray, rate: float) -> float:
        cf = self.characteristic(waveform[0], rate)
        return float(cf[int(self.lta_s * rate) :].max()) if len(cf) > self.lta_s * rate else float(cf.max())

    def onset(self, waveform: np.ndarray, rate: float) -> float:
        """Onset sample of the first trigger (the LTA warm-up is skipped: its ratios are not meaningful)."""
        cf = self.characteristic(waveform[0], rate)
        warm = min(int(self.lta_s * rate), len(cf) - 1)
        above = np.flatnonzero(cf[warm:] >= self.threshold)
        return float(warm + (above[0] if len(above) else np.argmax(cf[warm:])))


@dataclass
class AicPicker:
    band_hz: tuple[float, float] = (1.0, 20.0)
    name: str = "AIC"

    def onset(self, waveform: np.ndarray, rate: float) -> float:
        aic = aic_simple(_filtered(waveform[0], rate, self.band_hz))
        # The ends of the AIC curve are degenerate (variance of a handful of samples).
        margin = max(2, int(0.02 * len(aic)))
        return float(margin + np.argmin(aic[margin:-margin]))


def _filtered(trace: np.ndarray, rate: float, band: tuple[float, float]) -> np.ndarray:
    trace = np.asarray(trace, dtype=np.float64)
    trace = trace - trace.mean()
    high = min(band[1], 0.45 * rate)
    return bandpass(trace, band[0], high, rate, corners=4, zerophase=False)
