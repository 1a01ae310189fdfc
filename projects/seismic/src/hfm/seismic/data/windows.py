"""Labelled windows in memory, from a SeisBench-format dataset or the synthetic generator, and their torch datasets.

Labels follow SeisBench's conventions: `trace_P_arrival_sample` / `trace_S_arrival_sample` (NaN where absent), phase
targets are Gaussians of standard deviation `sigma_s` around each onset with noise = 1 - P - S, and the detection
target is 1 from P to S + 1.4 (S - P), SeisBench's DetectionLabeller rule for the end of the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.signal import resample_poly
from torch.utils.data import Dataset

from hfm.seismic.data.augment import ComponentAugment
from hfm.seismic.format import SeisBenchDataset
from hfm.seismic.synthetic import SyntheticConfig, generate
from hfm.seismic.tokenizer import Normalization, WaveformTokenizer
from hfm.shared.errors import HFMError

CODA_FACTOR = 1.4


@dataclass
class LabelledWindows:
    waveforms: np.ndarray  # (n, 3, T) float32, ZNE
    p_sample: np.ndarray  # (n,) float, NaN = no P in the window
    s_sample: np.ndarray
    sampling_rate: float
    name: str = ""

    def __len__(self) -> int:
        return len(self.waveforms)

    @property
    def is_event(self) -> np.ndarray:
        return ~(np.isnan(self.p_sample) & np.isnan(self.s_sample))

    def subset(self, index: np.ndarray) -> LabelledWindows:
        return LabelledWindows(
            self.waveforms[index], self.p_sample[index], self.s_sample[index], self.sampling_rate, self.name
        )


def synthetic_windows(n: int, seed: int, samples: int = 1000, noise_fraction: float = 0.25) -> LabelledWindows:
    records = generate(n, seed, SyntheticConfig(samples=samples, noise_fraction=noise_fraction))
    return LabelledWindows(records.waveforms, records.p_sample, records.s_sample, records.sampling_rate, "synthetic")


def label_subset(windows: LabelledWindows, fraction: float, seed: int) -> LabelledWindows:
    """A seeded fraction of the windows (at least one event and one noise window where both exist)."""
    if not 0 < fraction <= 1:
        raise HFMError(f"task.label_fraction must lie in (0, 1], got {fraction}")
    if fraction == 1:
        return windows
    rng = np.random.default_rng(seed)
    events, noise = np.flatnonzero(windows.is_event), np.flatnonzero(~windows.is_event)
    count = max(2, int(np.ceil(fraction * len(windows))))
    first = [rng.choice(g) for g in (events, noise) if len(g)]
    rest = rng.permutation(np.setdiff1d(np.arange(len(windows)), first))[: max(count - len(first), 0)]
    return windows.subset(np.sort(np.concatenate([first, rest]).astype(int)))


def resample(waveforms: np.ndarray, source: float, target: float) -> np.ndarray:
    """Polyphase resampling along the last axis (anti-aliased); rates must be integers in Hz."""
    if np.isclose(source, target):
        return waveforms
    up, down = round(target), round(source)
    divisor = np.gcd(up, down)
    return resample_poly(waveforms, up // divisor, down // divisor, axis=-1).astype(np.float32)


def seisbench_windows(
    root: str | Path, split: str | None = None, sampling_rate: float = 100.0, samples: int | None = None
) -> LabelledWindows:
    """Every trace of a SeisBench-format folder (optionally one split), at `sampling_rate`, cropped or zero-padded
    to `samples` from its start; P/S sample columns scaled to the new rate."""
    dataset = SeisBenchDataset(root)
    rows = split_rows(dataset, split)
    if split is not None and not len(rows):
        raise HFMError(f"{root}: no traces with split == {split!r}")
    waves, p, s = [], [], []
    for row in rows:
        wave, p_row, s_row = read_trace(dataset, int(row), sampling_rate)
        waves.append(wave)
        p.append(p_row)
        s.append(s_row)
    length = samples or min(w.shape[-1] for w in waves)
    out = np.zeros((len(waves), 3, length), dtype=np.float32)
    for i, wave in enumerate(waves):
        out[i, :, : min(length, wave.shape[-1])] = wave[:, :length]
    p_arr, s_arr = np.array(p), np.array(s)
    p_arr[p_arr >= length], s_arr[s_arr >= length] = np.nan, np.nan
    dataset.close()
    return LabelledWindows(out, p_arr, s_arr, sampling_rate, Path(root).name)


def split_rows(dataset: SeisBenchDataset, split: str | None) -> np.ndarray:
    """The rows of one split (all rows for None); a split column that is missing is refused."""
    meta = dataset.metadata
    if split is not None and "split" not in meta.columns:
        raise HFMError(f"{dataset.root}: metadata.csv has no split column; choose split=None to use every trace")
    return np.arange(len(dataset)) if split is None else np.flatnonzero(meta["split"].astype(str) == split)


def read_trace(dataset: SeisBenchDataset, row: int, sampling_rate: float) -> tuple[np.ndarray, float, float]:
    """One trace at `sampling_rate` (3 components) with its P and S samples scaled to that rate (NaN: none)."""
    meta = dataset.metadata
    rate = dataset.sampling_rate(row)
    wave = resample(dataset.waveform(row), rate, sampling_rate)
    if wave.shape[0] != 3:
        raise HFMError(f"{dataset.root}: trace {dataset.key(row)} has {wave.shape[0]} components, hfm picks on 3")
    factor = sampling_rate / rate
    p = float(meta["trace_P_arrival_sample"].iloc[row]) * factor if "trace_P_arrival_sample" in meta else np.nan
    s = float(meta["trace_S_arrival_sample"].iloc[row]) * factor if "trace_S_arrival_sample" in meta else np.nan
    return wave, p, s


def phase_targets(length: int, p: float, s: float, sigma: float) -> np.ndarray:
    """(3, T) P, S, noise: Gaussians of width `sigma` samples at the onsets; noise takes the rest."""
    t = np.arange(length)
    out = np.zeros((3, length), dtype=np.float32)
    for row, onset in ((0, p), (1, s)):
        if np.isfinite(onset):
            out[row] = np.exp(-0.5 * ((t - onset) / sigma) ** 2)
    out[:2] /= np.maximum(out[:2].sum(axis=0, keepdims=True), 1.0)
    out[2] = 1.0 - out[0] - out[1]
    return out


def detection_target(length: int, p: float, s: float) -> np.ndarray:
    out = np.zeros(length, dtype=np.float32)
    if np.isfinite(p):
        end = s + CODA_FACTOR * (s - p) if np.isfinite(s) else length
        out[int(p) : int(min(end, length))] = 1.0
    elif np.isfinite(s):
        out[int(s) :] = 1.0
    return out


class UnlabelledDataset(Dataset):
    """Normalised windows for masked autoencoding, cropped to a multiple of the patch length; with an active
    `augment`, each window is augmented before it is normalised."""

    def __init__(
        self,
        windows: LabelledWindows,
        patch_len: int,
        normalization: Normalization = "window",
        augment: ComponentAugment | None = None,
    ) -> None:
        length = windows.waveforms.shape[-1] // patch_len * patch_len
        self.normalization = normalization
        self.augment = augment if augment is not None and augment.active else None
        raw = torch.from_numpy(windows.waveforms[..., :length])
        self.x = raw if self.augment else WaveformTokenizer.normalize(raw, normalization)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> torch.Tensor:
        if self.augment is None:
            return self.x[index]
        return augmented_mae_input(self.x[index].numpy(), self.augment, index, self.normalization)


class PickingDataset(Dataset):
    """(waveform, phase targets, detection target) per window; the waveform augmented when `augment` is given (the
    picker normalises its input itself)."""

    def __init__(self, windows: LabelledWindows, sigma_s: float = 0.1, augment: ComponentAugment | None = None) -> None:
        self.windows = windows
        self.sigma = sigma_s * windows.sampling_rate
        self.augment = augment or ComponentAugment()

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        w = self.windows
        p, s = float(w.p_sample[index]), float(w.s_sample[index])
        return picking_item(w.waveforms[index], p, s, self.sigma, self.augment, index)


def augmented_mae_input(
    wave: np.ndarray, augment: ComponentAugment, index: int, normalization: Normalization
) -> torch.Tensor:
    """A (3, T) window as masked autoencoding sees it: augmented (draws from (seed, index)), then normalised."""
    return WaveformTokenizer.normalize(torch.from_numpy(augment(wave, index))[None], normalization)[0]


def picking_item(
    wave: np.ndarray, p: float, s: float, sigma: float, augment: ComponentAugment, index: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(augmented waveform, phase targets of width `sigma` samples, detection target) of one (3, T) window."""
    length = wave.shape[-1]
    return (
        torch.from_numpy(np.ascontiguousarray(augment(wave, index), dtype=np.float32)),
        torch.from_numpy(phase_targets(length, p, s, sigma)),
        torch.from_numpy(detection_target(length, p, s)),
    )
