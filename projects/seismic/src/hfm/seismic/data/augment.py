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
