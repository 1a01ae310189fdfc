"""Synthetic plankton-like images with known class, size and pixel size, for scale tests and trait validation.

Six morphological classes loosely after common plankton groups: `round` (discs, like many ciliates), `elongated`
(ellipses, pennate diatoms), `chain` (rows of cells, chain-forming diatoms), `spiny` (a disc with radial spines,
acantharians), `ring` (a thick-walled hollow shell, radiolarians) and `rod` (thin needles). Each object has a
physical size drawn per class in micrometres, is imaged at a pixel size drawn per image, and carries a grainy
texture and camera noise on a bright background, so classes cannot be told apart by size alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CLASSES = ("round", "elongated", "chain", "spiny", "ring", "rod")
# median equivalent size in um per class; the spread is a factor of ~1.6 either way
_SIZE_UM = {"round": 60.0, "elongated": 90.0, "chain": 120.0, "spiny": 100.0, "ring": 80.0, "rod": 110.0}


@dataclass
class SyntheticSet:
    images: list[np.ndarray]  # grey float32 in [0, 1], background bright
    labels: np.ndarray  # class index into CLASSES
    pixel_size_um: np.ndarray


def ellipse_mask(shape: tuple[int, int], center: tuple[float, float], a: float, b: float, angle: float) -> np.ndarray:
    """Pixels whose centres lie inside the ellipse with semi-axes a (along `angle`) and b, in pixels."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    dy, dx = yy - center[0], xx - center[1]
    u = dx * math.cos(angle) + dy * math.sin(angle)
    v = -dx * math.sin(angle) + dy * math.cos(angle)
    return (u / a) ** 2 + (v / b) ** 2 <= 1.0


def _object_mask(kind: str, size_px: float, rng: np.random.Generator) -> np.ndarray:
    side = math.ceil(size_px * 2.2) + 8
    shape, c = (side, side), ((side - 1) / 2, (side - 1) / 2)
    angle = rng.uniform(0, math.pi)
    r = size_px / 2
    if kind == "round":
        return ellipse_mask(shape, c, r, r * rng.uniform(0.85, 1.0), angle)
    if kind == "elongated":
        return ellipse_mask(shape, c, r * 1.6, r * 0.45, angle)
    if kind == "rod":
        return ellipse_mask(shape, c, r * 1.9, max(r * 0.12, 1.0), angle)
    if kind == "ring":
        return ellipse_mask(shape, c, r, r, 0) & ~ellipse_mask(shape, c, r * 0.6, r * 0.6, 0)
    if kind == "chain":
        cells = int(rng.integers(3, 6))
        cell = r * 1.8 / cells
        mask = np.zeros(shape, bool)
        for k in range(cells):
            offset = (k - (cells - 1) / 2) * cell * 1.9
            mask |= ellipse_mask(
                shape, (c[0] + offset * math.sin(angle), c[1] + offset * math.cos(angle)), cell, cell, 0
            )
        return mask
    # spiny
    mask = ellipse_mask(shape, c, r * 0.55, r * 0.55, 0)
    for k in range(int(rng.integers(6, 11))):
        theta = angle + 2 * math.pi * k / 8
        mid = (c[0] + 0.6 * r * math.sin(theta), c[1] + 0.6 * r * math.cos(theta))
        mask |= ellipse_mask(shape, mid, r * 0.6, max(r * 0.06, 0.8), theta)
    return mask


def render(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dark textured object on a bright background with mild camera noise, cropped around the object."""
    ys, xs = np.nonzero(mask)
    pad = 4
    mask = mask[max(ys.min() - pad, 0) : ys.max() + pad + 1, max(xs.min() - pad, 0) : xs.max() + pad + 1]
    background = rng.uniform(0.75, 0.9)
    texture = rng.normal(0, 0.06, mask.shape)
    grey = np.where(mask, rng.uniform(0.2, 0.45) + texture, background)
    grey = grey + rng.normal(0, 0.01, mask.shape)
    return np.clip(grey, 0, 1).astype(np.float32)


def make_synthetic(n_per_class: int, seed: int = 0, classes: tuple[str, ...] = CLASSES) -> SyntheticSet:
    rng = np.random.default_rng(seed)
    images, labels, pixels = [], [], []
    for index, kind in enumerate(classes):
        for _ in range(n_per_class):
            pixel = float(rng.uniform(1.0, 3.0))  # um/px: the same organism spans different pixel counts
            size_um = _SIZE_UM[kind] * math.exp(rng.uniform(-0.5, 0.5))
            images.append(render(_object_mask(kind, size_um / pixel, rng), rng))
            labels.append(index)
            pixels.append(pixel)
    order = rng.permutation(len(images))
    return SyntheticSet([images[i] for i in order], np.asarray(labels)[order], np.asarray(pixels)[order])


def discs_and_bars(n: int, seed: int = 0, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """`n` bright square canvases, alternately a dark bar (class "bar") and a dark disc ("disc") of random place and
    size, with faint noise: the smallest two-class set a CNN or an encoder must separate (used by the model tests)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    low, high = size * 10 / 32, size * 22 / 32
    canvases, labels = [], []
    for i in range(n):
        cy, cx, r = rng.uniform(low, high), rng.uniform(low, high), rng.uniform(size / 8, size / 4)
        if i % 2:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
        else:
            mask = (np.abs(yy - cy) < r * 1.5) & (np.abs(xx - cx) < 1.5)
        canvases.append(np.where(mask, 0.2, 0.8) + 0.02 * rng.standard_normal((size, size)))
        labels.append("disc" if i % 2 else "bar")
    return np.asarray(canvases, np.float32), np.asarray(labels)
