"""The classic pickers a seismologist runs, from obspy.signal, with their thresholds tuned on a dev split.

- STA/LTA + AIC: recursive STA/LTA (Allen 1978) on the band-passed vertical; each trigger (`trigger_onset` above
  the threshold) is refined to the AIC minimum (Maeda 1985) in the stretch before it. P only (no phase identity).
- `ar_pick` (Akazawa 2004, ObsPy): autoregressive P on the vertical and S on the horizontals; one P and one S per
  trace. Its STA/LTA lengths are chosen on dev from a small grid.
- `pk_baer` (Baer & Kradolfer 1987, ObsPy): one P per trace; its threshold `thr1` is chosen on dev.

Every picker answers two questions the benchmark asks: the onset inside an evaluation window (one per phase, NaN when
it finds none) and the picks on a whole record (sample indices per phase).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from obspy.signal.filter import bandpass
from obspy.signal.trigger import aic_simple, ar_pick, pk_baer, recursive_sta_lta, trigger_onset

from hfm.seismic.baselines.ar_pick_isolated import ar_pick_fresh_process, s_search_leaves_buffer

L_P = 0.1  # ar_pick's P variance window, seconds (ObsPy's example value)


def _band(trace: np.ndarray, rate: float, low: float = 1.0, high: float = 20.0) -> np.ndarray:
    trace = np.asarray(trace, dtype=np.float64)
    return bandpass(trace - trace.mean(), low, min(high, 0.45 * rate), rate, corners=4, zerophase=False)


@dataclass
class StaLtaAic:
    sta_s: float = 0.2  # short windows for local events: 0.5/5 s triggered up to 2 s late on DFDP records
    lta_s: float = 2.0
    threshold: float = 3.0
    aic_before_s: float = 1.5  # the AIC refinement looks this far back from the trigger (STA/LTA triggers late)
    name: str = "STA/LTA + AIC"
    phases: tuple[str, ...] = ("P",)
    grid: dict = field(default_factory=lambda: {"threshold": [2.0, 2.5, 3.0, 4.0, 5.0, 7.0]})

    def characteristic(self, vertical: np.ndarray, rate: float) -> np.ndarray:
        cf = recursive_sta_lta(_band(vertical, rate), max(1, int(self.sta_s * rate)), max(2, int(self.lta_s * rate)))
        cf[: int(self.lta_s * rate)] = 0.0  # the LTA warm-up gives meaningless ratios
        return cf

    def _refine(self, vertical: np.ndarray, trigger: int, rate: float) -> float:
        lo = max(0, trigger - int(self.aic_before_s * rate))
        hi = min(len(vertical), trigger + int(0.25 * rate))
        if hi - lo < 10:
            return float(trigger)
        aic = aic_simple(_band(vertical[lo:hi], rate))
        margin = 3
        return float(lo + margin + np.argmin(aic[margin:-margin]))

    def detection_score(self, window: np.ndarray, rate: float) -> float:
        return float(self.characteristic(window[0], rate).max())

    def window_onsets(self, window: np.ndarray, rate: float) -> dict[str, float]:
        cf = self.characteristic(window[0], rate)
        above = np.flatnonzero(cf >= self.threshold)
        # Like a model's probability maximum, the window always gets an onset: the strongest ratio if none triggers.
        trigger = int(above[0]) if len(above) else int(np.argmax(cf))
        return {"P": self._refine(window[0], trigger, rate)}

    def record_picks(self, record: np.ndarray, rate: float) -> dict[str, list[float]]:
        cf = self.characteristic(record[0], rate)
        triggers = trigger_onset(cf, self.threshold, max(1.0, self.threshold / 2))
        return {"P": [self._refine(record[0], int(on), rate) for on, _ in triggers]}


@dataclass
class ArPicker:
    """ObsPy's `ar_pick` band-passed to `band_hz`: `lta_p`/`sta_p` are the LTA and STA window lengths in seconds
    for P on the vertical, `lta_s`/`sta_s` those for S on the horizontals; the autoregressive orders (2 for P, 8 for
    S) and variance windows (0.1 s, 0.2 s) stay ObsPy's example values. `grid`: the settings tried on dev."""

    lta_p: float = 1.0
    sta_p: float = 0.1
    lta_s: float = 4.0
    sta_s: float = 1.0
    band_hz: tuple[float, float] = (1.0, 20.0)
    name: str = "ar_pick (ObsPy)"
    phases: tuple[str, ...] = ("P", "S")
    grid: dict = field(
        default_factory=lambda: {"lta_p": [1.0, 2.0], "sta_p": [0.1, 0.2], "lta_s": [4.0], "sta_s": [0.5, 1.0]}
    )

    def _pick(self, wave: np.ndarray, rate: float) -> dict[str, float]:
        z, n, e = (np.ascontiguousarray(c, dtype=np.float32) for c in wave)
        args = (rate, self.band_hz[0], min(self.band_hz[1], 0.45 * rate), self.lta_p, self.sta_p, self.lta_s,
                self.sta_s, 2, 8, L_P, 0.2)  # fmt: skip
        try:
            p, s = ar_pick(z, n, e, *args)
            if s_search_leaves_buffer(p, rate, L_P, self.lta_s):  # S would depend on the heap: see ar_pick_isolated
                p, s = ar_pick_fresh_process(z, n, e, *args)
        except Exception:  # ar_pick fails on flat or too short input: no pick
            return {"P": np.nan, "S": np.nan}
        length = wave.shape[-1] / rate
        return {k: (v * rate if 0 < v < length else np.nan) for k, v in (("P", p), ("S", s))}

    def window_onsets(self, window: np.ndarray, rate: float) -> dict[str, float]:
        return self._pick(window, rate)

    def record_picks(self, record: np.ndarray, rate: float) -> dict[str, list[float]]:
        onsets = self._pick(record, rate)
        return {k: [v] if np.isfinite(v) else [] for k, v in onsets.items()}


@dataclass
class BaerPicker:
    """ObsPy's `pk_baer` on the band-passed vertical, its lengths in seconds (samples at the record's rate):
    `tdownmax_s`, how long the characteristic function may drop below the threshold within one trigger;
    `tupevent_s`, the shortest trigger that counts as an event; `thr1`, the threshold that triggers; `thr2`, the
    threshold for updating the noise level; `preset_len_s`, the stretch that initialises it; `p_dur_s`, the span
    over which the onset's amplitude is measured. `grid`: the settings tried on dev."""

    tdownmax_s: float = 0.2
    tupevent_s: float = 0.6
    thr1: float = 7.0
    thr2: float = 12.0
    preset_len_s: float = 1.0
    p_dur_s: float = 1.0
    name: str = "pk_baer (ObsPy)"
    phases: tuple[str, ...] = ("P",)
    grid: dict = field(default_factory=lambda: {"thr1": [3.0, 5.0, 7.0, 10.0, 15.0, 25.0]})

    def window_onsets(self, window: np.ndarray, rate: float) -> dict[str, float]:
        data = np.ascontiguousarray(_band(window[0], rate), dtype=np.float32)
        try:
            sample, _ = pk_baer(
                data, rate, int(self.tdownmax_s * rate), int(self.tupevent_s * rate), self.thr1, self.thr2,
                int(self.preset_len_s * rate), int(self.p_dur_s * rate),
            )  # fmt: skip
        except Exception:  # pk_baer fails on flat input: no pick
            return {"P": np.nan}
        return {"P": float(sample) if 0 < sample < window.shape[-1] else np.nan}

    def record_picks(self, record: np.ndarray, rate: float) -> dict[str, list[float]]:
        onset = self.window_onsets(record, rate)["P"]
        return {"P": [onset] if np.isfinite(onset) else []}


def grid_settings(picker) -> list:
    """Every combination of the picker's grid, as copies of the picker."""
    settings = [picker]
    for key, values in picker.grid.items():
        settings = [replace(s, **{key: v}) for s in settings for v in values]
    return settings
