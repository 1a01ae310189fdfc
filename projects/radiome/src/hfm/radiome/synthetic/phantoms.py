"""Synthetic 3D phantoms with known labels: nested ellipsoids (background / shell / core), for scale tests.

Each phantom has a random centre, radii and contrast, a smooth bias field and Gaussian noise, so a segmenter must
learn shape and relative contrast rather than one fixed threshold.
"""

from __future__ import annotations

import numpy as np


def make_phantom(shape: tuple[int, int, int] = (32, 32, 32), seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(image float32, label uint8 in {0: background, 1: shell, 2: core}) on a `shape` grid."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    centre = rng.uniform(-0.15, 0.15, size=3)[:, None, None, None]
    radii = rng.uniform(0.55, 0.8, size=3)[:, None, None, None]
    distance = np.sqrt((((grid - centre) / radii) ** 2).sum(0))
    core_fraction = rng.uniform(0.45, 0.65)
    label = np.zeros(shape, np.uint8)
    label[distance < 1.0] = 1
    label[distance < core_fraction] = 2
    shell_value, core_value = rng.uniform(0.4, 0.6), rng.uniform(0.8, 1.0)
    image = np.choose(label, [0.0, shell_value, core_value]).astype(np.float32)
    bias = 1.0 + 0.15 * (grid * rng.normal(size=3)[:, None, None, None]).sum(0)
    image = image * bias + rng.normal(0.0, 0.08, size=shape)
    return image.astype(np.float32), label


def phantom_affine(spacing: float = 2.0) -> np.ndarray:
    return np.diag([spacing, spacing, spacing, 1.0])
