"""Labelled records in memory (whole traces with analyst onsets) and the windows the benchmark cuts from them.

A `Records` set holds whole traces of unequal length at one rate (the DFDP 90 s event records, the NCEDC 90 s
windows), each with its P and S onset sample (NaN where the analyst picked none), station, event and components.
From them: training crops (seeded, the onset anywhere in the crop, some with the horizontals zeroed so the picker
also learns vertical-only stations), evaluation windows that put each analyst pick at a seeded place (the same for
every method), and detection windows (one containing P, one of noise ending before P).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

from hfm.seismic.data.windows import LabelledWindows, resample
from hfm.seismic.format import SeisBenchDataset
from hfm.shared.errors import HFMError


@dataclass
class Records:
    waveforms: list[np.ndarray]  # each (3, N_i) float32, ZNE at `sampling_rate`
    p_sample: np.ndarray
    s_sample: np.ndarray
    event_id: np.ndarray  # str
    station: np.ndarray  # str
    components: np.ndarray  # str, e.g. "ZNE" or "Z"
    sampling_rate: float = 100.0
    name: str = ""
    native_rate: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __len__(self) -> int:
        return len(self.waveforms)

    @classmethod
    def from_windows(cls, windows: LabelledWindows, station: str = "XX.A") -> Records:
        """Labelled windows (generated ones, say) as records: one event per window, all at one 3-component
        station, so the benchmark's harness (crops, pick and detection windows, dev scores) runs on them."""
        count = len(windows.waveforms)
        return cls(
            list(windows.waveforms), windows.p_sample, windows.s_sample, np.array([f"e{i}" for i in range(count)]),
            np.array([station] * count), np.array(["ZNE"] * count), windows.sampling_rate, windows.name,
        )  # fmt: skip

    def subset(self, index: np.ndarray) -> Records:
        index = np.asarray(index, dtype=int)
        return Records(
            [self.waveforms[i] for i in index],
            self.p_sample[index],
            self.s_sample[index],
            self.event_id[index],
            self.station[index],
            self.components[index],
            self.sampling_rate,
            self.name,
            self.native_rate[index] if len(self.native_rate) else self.native_rate,
        )

    def vertical_only(self) -> Records:
        """The same records with N and E zeroed: what a vertical-only station delivers."""
        out = self.subset(np.arange(len(self)))
        out.waveforms = [np.concatenate([w[:1], np.zeros_like(w[1:])]) for w in self.waveforms]
        out.components = np.array(["Z"] * len(self))
        out.name = f"{self.name} (Z only)"
        return out

    def onsets(self, phase: str) -> np.ndarray:
        return self.p_sample if phase == "P" else self.s_sample

    def band_passed(self, band_hz: tuple[float, float]) -> Records:
        """The same records through a causal band-pass (what a front end would see; onsets are not moved)."""
        out = self.subset(np.arange(len(self)))
        out.waveforms = [band_pass(w, self.sampling_rate, band_hz) for w in self.waveforms]
        out.name = f"{self.name} ({band_hz[0]:g}-{band_hz[1]:g} Hz)"
        return out


def band_pass(waves: np.ndarray, rate: float, band_hz: tuple[float, float]) -> np.ndarray:
    """Causal 4-pole Butterworth band-pass along the last axis (causal: no energy is moved before an onset)."""
    sos = butter(4, [band_hz[0], min(band_hz[1], 0.45 * rate)], btype="bandpass", fs=rate, output="sos")
    demeaned = waves - waves.mean(axis=-1, keepdims=True)
    return sosfilt(sos, demeaned, axis=-1).astype(np.float32)


def load_records(root: str | Path, split: str | None = None, sampling_rate: float = 100.0) -> Records:
    """Every trace of a SeisBench-format folder (optionally one split) with its onsets, at `sampling_rate`."""
    dataset = SeisBenchDataset(root)
    meta = dataset.metadata
    rows = np.arange(len(dataset)) if split is None else np.flatnonzero(meta["split"].astype(str) == split)
    if not len(rows):
        raise HFMError(f"{root}: no traces with split == {split!r}")
    waves, p, s = [], [], []
    for row in rows:
        rate = dataset.sampling_rate(int(row))
        waves.append(resample(dataset.waveform(int(row)).astype(np.float32), rate, sampling_rate))
        factor = sampling_rate / rate
        p.append(float(meta["trace_P_arrival_sample"].iloc[row]) * factor)
        s.append(float(meta["trace_S_arrival_sample"].iloc[row]) * factor)
    dataset.close()
    picked = meta.iloc[rows]
    native = (
        picked["trace_native_sampling_rate_hz"].to_numpy(float)
        if "trace_native_sampling_rate_hz" in picked
        else np.full(len(rows), sampling_rate)
    )
    return Records(
        waves,
        np.array(p),
        np.array(s),
        picked["source_id"].astype(str).to_numpy(),
        (picked["station_network_code"].astype(str) + "." + picked["station_code"].astype(str)).to_numpy(),
        picked["trace_components"].astype(str).to_numpy(),
        sampling_rate,
        Path(root).name,
        native,
    )


def training_crops(
    records: Records,
    samples: int,
    per_record: int,
    seed: int,
    vertical_fraction: float = 0.2,
    margin: int = 50,
) -> LabelledWindows:
    """`per_record` seeded crops of each record with the P onset anywhere from `margin` samples after the crop start
    to `margin` before its end (S wherever it falls); a `vertical_fraction` of the 3-component crops lose N and E."""
    rng = np.random.default_rng(seed)
    waves, p_out, s_out = [], [], []
    for wave, p, s, comps in zip(
        records.waveforms, records.p_sample, records.s_sample, records.components, strict=True
    ):
        length = wave.shape[-1]
        if length < samples:
            continue
        anchor = p if np.isfinite(p) else s
        for _ in range(per_record):
            if np.isfinite(anchor):
                lo = int(max(0, anchor - samples + margin))
                hi = int(min(length - samples, max(anchor - margin, 0)))
                start = int(rng.integers(lo, max(hi, lo) + 1))
            else:
                start = int(rng.integers(0, length - samples + 1))
            crop = wave[:, start : start + samples].copy()
            if len(comps) == 3 and rng.random() < vertical_fraction:
                crop[1:] = 0.0
            waves.append(crop)
            p_out.append(p - start if np.isfinite(p) and 0 <= p - start < samples else np.nan)
            s_out.append(s - start if np.isfinite(s) and 0 <= s - start < samples else np.nan)
    return LabelledWindows(
        np.stack(waves).astype(np.float32), np.array(p_out), np.array(s_out), records.sampling_rate, "crops"
    )


@dataclass
class PickWindows:
    """One evaluation window per analyst pick of one phase: the pick at a seeded place, the same for every method."""

    phase: str
    waveforms: np.ndarray  # (n, 3, samples)
    onset: np.ndarray  # (n,) the analyst onset, samples from the window start
    record: np.ndarray  # (n,) index of the record
    event_id: np.ndarray


def pick_windows(
    records: Records, phase: str, samples: int, seed: int, lo: float = 0.1, hi: float = 0.9
) -> PickWindows:
    """Windows of `samples` holding each analyst pick of `phase` between `lo` and `hi` of the window (seeded)."""
    rng = np.random.default_rng(seed + (0 if phase == "P" else 1))
    waves, onsets, index = [], [], []
    for i, (wave, onset) in enumerate(zip(records.waveforms, records.onsets(phase), strict=True)):
        draw = rng.uniform(lo, hi)  # drawn for every record, so windows do not depend on which records have picks
        if not np.isfinite(onset) or wave.shape[-1] < samples:
            continue
        start = int(np.clip(round(onset - draw * samples), 0, wave.shape[-1] - samples))
        waves.append(wave[:, start : start + samples])
        onsets.append(onset - start)
        index.append(i)
    index_arr = np.array(index, dtype=int)
    return PickWindows(
        phase,
        np.stack(waves).astype(np.float32) if waves else np.zeros((0, 3, samples), np.float32),
        np.array(onsets),
        index_arr,
        records.event_id[index_arr],
    )


def detection_windows(records: Records, samples: int, seed: int, gap_s: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """(windows, is_event): per record one window holding P (seeded place) and, where the record reaches far enough
    before P, one noise window ending `gap_s` before P. Also returns the record of each window as the third item."""
    rng = np.random.default_rng(seed + 7)
    waves, labels, owner = [], [], []
    gap = int(gap_s * records.sampling_rate)
    for i, (wave, p) in enumerate(zip(records.waveforms, records.p_sample, strict=True)):
        draw = rng.uniform(0.1, 0.6)
        if not np.isfinite(p) or wave.shape[-1] < samples:
            continue
        start = int(np.clip(round(p - draw * samples), 0, wave.shape[-1] - samples))
        waves.append(wave[:, start : start + samples])
        labels.append(True)
        owner.append(i)
        if p - gap - samples >= 0:
            end = int(p - gap)
            waves.append(wave[:, end - samples : end])
            labels.append(False)
            owner.append(i)
    return np.stack(waves).astype(np.float32), np.array(labels), np.array(owner, dtype=int)
