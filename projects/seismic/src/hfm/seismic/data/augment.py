"""Component augmentation for training windows: horizontals missing, or noisier than the vertical.

Why (issue 14): the NCEDC stations the picker learns from have horizontals about as quiet as their vertical (pre-P
noise ratio N,E / Z 1.06), other networks do not (DFDP 1.28, a third of its stations above 1.5), and a picker that
leans on clean horizontals loses its P picks there. Training windows are therefore, each with its own probability:
- `dropout`: N and E zeroed, as a vertical-only station records them;
- `noise`: white noise added to N and E at 0.5-3x each one's own standard deviation (a noisy horizontal site).
Each window's draw depends on (seed, index) only, so a run is reproducible and independent of batch order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hfm.shared.errors import HFMError

NOISE_LEVELS = (0.5, 3.0)  # added noise, in units of the horizontal's own standard deviation


@dataclass(frozen=True)
class ComponentAugment:
    dropout: float = 0.0
    noise: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("dropout", "noise"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise HFMError(f"option horizontal_{name}: a share of windows in [0, 1], got {value}")

    @property
    def active(self) -> bool:
        return self.dropout > 0 or self.noise > 0

    def __call__(self, wave: np.ndarray, index: int) -> np.ndarray:
        """(3, T) ZNE -> the window as training sees it; the input is never modified."""
        if not self.active or wave.shape[0] != 3:
            return wave
        rng = np.random.default_rng([self.seed, index])
        drop, noisy, level = rng.random(), rng.random(), rng.uniform(*NOISE_LEVELS)
        if drop < self.dropout:
            out = wave.copy()
            out[1:] = 0.0
            return out
        if noisy < self.noise:
            horizontals = wave[1:].astype(np.float64)
            scale = horizontals.std(axis=-1, keepdims=True)
            out = wave.copy()
            out[1:] = horizontals + level * scale * rng.standard_normal(horizontals.shape)
            return out
        return wave


REAL_NOISE_LEVELS = (0.5, 4.0)  # added noise floor, in units of the window's own noise floor (log-uniform)


def noise_floor(wave: np.ndarray, block: int = 100) -> np.ndarray:
    """(C, T) -> (C, 1): each component's noise floor, the median standard deviation of its `block`-sample blocks
    (robust to the event: most blocks of a window are noise or coda). 0 for a zeroed component."""
    usable = wave.shape[-1] // block * block
    blocks = wave[:, :usable].astype(np.float64).reshape(wave.shape[0], -1, block)
    return np.median(blocks.std(axis=-1), axis=-1, keepdims=True)


def superpose_real_noise(
    waves: np.ndarray, noise: np.ndarray, fraction: float, seed: int, levels: tuple[float, float] = REAL_NOISE_LEVELS
) -> np.ndarray:
    """Training windows (n, 3, T) with recorded noise added to a seeded `fraction` of them: a window of `noise`
    (m, 3, >= T, unlabelled records, never test events), each component scaled to a log-uniform multiple of the
    window's own noise floor (`noise_floor`), so the event is as seen at a noisier site. Components that are zero
    (missing) stay zero. The input is never modified."""
    if not 0.0 <= fraction <= 1.0:
        raise HFMError(f"real-noise fraction: a share of windows in [0, 1], got {fraction}")
    out = waves.copy()
    if fraction == 0 or len(noise) == 0:
        return out
    rng = np.random.default_rng([seed, 7])
    length = waves.shape[-1]
    for i in range(len(waves)):
        chosen, pick, level = rng.random(), int(rng.integers(len(noise))), np.exp(rng.uniform(*np.log(levels)))
        start = int(rng.integers(noise.shape[-1] - length + 1))
        if chosen >= fraction:
            continue
        cut = noise[pick, :, start : start + length].astype(np.float64)
        cut -= cut.mean(axis=-1, keepdims=True)
        cut_floor, own_floor = noise_floor(cut), noise_floor(waves[i])
        gain = np.where(cut_floor > 0, level * own_floor / np.where(cut_floor > 0, cut_floor, 1.0), 0.0)
        out[i] = (waves[i] + gain * cut).astype(waves.dtype)
    return out
