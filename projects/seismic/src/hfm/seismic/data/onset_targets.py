"""The label-free targets of the onset pretraining of the whole picker (issue 14; h26's recipe, h52/h53 on dev).

The masked autoencoder teaches the encoder to rebuild the waveform; nothing in it says where energy begins. The
onset pretraining (`hfm.seismic.tasks.OnsetPretrainTask`, run by `hfm.seismic.training.pretrain_onset`) trains the
picker itself (encoder, head, refiner) to regress four traces computed from the clean window, with 30% of its 0.5 s
blocks hidden from the input (`hidden_blocks`):

    0  P onset: log of the mean Z energy 0.2 s ahead over the mean Z energy 2 s behind (peaks where Z starts)
    1  S onset: the same on N + E
    2  minus the log envelope of Z (mean energy over t +- 0.1 s, less its median over the window)
    3  the log envelope of N + E, the same way

Channels 0 and 1 land on the picker's P and S outputs, so fine-tuning starts from a picker that already looks for
onsets, and loads every tensor (`tasks.load_picker`), not the encoder alone. Energies are those of the
per-component scaled window, eps 1e-4; each target is standardised over the unaugmented corpus; a dead component
gives 0.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from hfm.seismic.tokenizer import WaveformTokenizer

EPS = 1e-4  # energy floor of the ratios and envelopes (the scaled window has unit variance per component)
AHEAD = 20  # samples (0.2 s at 100 Hz) ahead of t in the onset ratio
BEHIND = 200  # samples (2 s) behind t
HALF = 10  # envelope over t +- 0.1 s
PATCH = 25  # the picker's patch length: a hidden block is whole patches
BLOCK_PATCHES = 2  # 0.5 s blocks
HIDDEN_SHARE = 0.3  # 18 of the 60 blocks of a 30 s window


def _cumulative(energy: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros((*energy.shape[:-1], 1)), np.cumsum(energy, -1)], -1)


def _window_mean(cumulative: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean energy over [lo, hi) per sample, from the cumulative sum (hi > lo everywhere)."""
    return (cumulative[..., hi] - cumulative[..., lo]) / (hi - lo)


def onset_targets(windows: np.ndarray) -> np.ndarray:
    """(N, 3, T) raw Z/N/E windows -> (N, 4, T) unstandardised targets (see the module text), float32.

    At the edges each window uses the samples there are; at t = 0 the backward window is [0, 1)."""
    scaled = WaveformTokenizer.normalize(torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)), "component")
    energy = scaled.double().numpy() ** 2
    n, _, t = energy.shape
    vertical, horizontal = energy[:, 0], energy[:, 1] + energy[:, 2]
    idx = np.arange(t)
    ahead_lo, ahead_hi = idx, np.minimum(idx + AHEAD, t)
    behind_lo, behind_hi = np.maximum(idx - BEHIND, 0), np.maximum(idx, 1)
    env_lo, env_hi = np.maximum(idx - HALF, 0), np.minimum(idx + HALF + 1, t)
    out = np.zeros((n, 4, t))
    for channel, component in ((0, vertical), (1, horizontal)):
        c = _cumulative(component)
        ahead = _window_mean(c, ahead_lo, ahead_hi)
        out[:, channel] = np.log((ahead + EPS) / (_window_mean(c, behind_lo, behind_hi) + EPS))
    for channel, component, sign in ((2, vertical, -1.0), (3, horizontal, 1.0)):
        envelope = np.log(_window_mean(_cumulative(component), env_lo, env_hi) + EPS)
        out[:, channel] = sign * (envelope - np.median(envelope, -1, keepdims=True))
    # a dead component already gives ~0 through eps; made exact so a zeroed horizontal pair teaches nothing
    centred = windows - windows.mean(-1, keepdims=True)
    dead_z = centred[:, 0].std(-1) < 1e-12
    dead_h = (centred[:, 1].std(-1) < 1e-12) & (centred[:, 2].std(-1) < 1e-12)
    out[dead_z, 0] = out[dead_z, 2] = 0.0
    out[dead_h, 1] = out[dead_h, 3] = 0.0
    return out.astype(np.float32)


def standardised_targets(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`onset_targets` standardised per target over the corpus: (targets, mean, sd), all float32."""
    raw = onset_targets(windows)
    mean, sd = raw.mean((0, 2)), raw.std((0, 2))
    return ((raw - mean[None, :, None]) / sd[None, :, None]).astype(np.float32), mean, sd


def hidden_blocks(batch: int, samples: int) -> torch.Tensor:
    """(batch, samples) bool: 30% of the 0.5 s blocks of each window, drawn from torch's global RNG (the trainer
    seeds it), so a run is reproducible from its seed."""
    span = PATCH * BLOCK_PATCHES
    blocks = samples // span
    order = torch.rand(batch, blocks).argsort(1)
    hidden = torch.zeros(batch, blocks, dtype=torch.bool)
    hidden.scatter_(1, order[:, : round(HIDDEN_SHARE * blocks)], True)
    tail = torch.zeros(batch, samples - blocks * span, dtype=torch.bool)  # a last partial block stays visible
    return torch.cat([hidden.repeat_interleave(span, 1), tail], 1)


class IndexedWindows(Dataset):
    """The corpus windows with their index (the task looks the targets up by it, so they follow the shuffle)."""

    def __init__(self, windows: np.ndarray) -> None:
        self.windows = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.windows[index], index
