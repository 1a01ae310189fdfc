"""Example raw data so the template runs end to end: noisy sine, square and sawtooth signals of random frequency
and phase, written as one `.npy` per signal in one folder per class. A real domain reads its community's files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ("sawtooth", "sine", "square")


def write_example_raw(folder: Path, per_class: int = 40, length: int = 256, noise: float = 0.8, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(length) / length
    for label in CLASSES:
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            phase = 2 * np.pi * (rng.uniform(2, 8) * t + rng.uniform())
            clean = {
                "sine": np.sin(phase),
                "square": np.sign(np.sin(phase)),
                "sawtooth": (phase / np.pi) % 2 - 1,
            }[label]
            signal = clean + noise * rng.normal(size=length)
            np.save(folder / label / f"{label}-{i:03d}.npy", signal.astype(np.float32))
    return folder
