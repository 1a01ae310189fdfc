"""Harmonising volumes: resampling to a target spacing and per-modality intensity normalisation (as nnU-Net does).

- CT: clip to a window in Hounsfield units, then scale with the foreground's mean and std (nnU-Net's CT scheme).
- MR: z-score with the statistics of the foreground (voxels above the background), background set to 0.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hfm.radiome.readers.volume import voxel_spacing

CT_WINDOW_HU = (-1000.0, 1000.0)


def resampled_grid(
    shape: tuple[int, ...], affine: np.ndarray, target_spacing: tuple[float, float, float]
) -> tuple[tuple[int, int, int], np.ndarray]:
    """The shape and affine of the grid that covers the same extent at `target_spacing`."""
    spacing = np.asarray(voxel_spacing(affine))
    new_shape = np.maximum(1, np.round(np.asarray(shape[:3]) * spacing / np.asarray(target_spacing))).astype(int)
    factor = np.asarray(shape[:3]) / new_shape  # old voxels per new voxel along each axis
    # grid_mode resampling keeps the outer faces of the grid: new voxel i is centred at old index (i + 0.5) f - 0.5.
    step = np.eye(4)
    step[:3, :3] = np.diag(factor)
    step[:3, 3] = 0.5 * factor - 0.5
    return tuple(int(n) for n in new_shape), np.asarray(affine, float) @ step  # type: ignore[return-value]


def resample(
    array: np.ndarray, affine: np.ndarray, target_spacing: tuple[float, float, float], is_label: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Resample a 3D array (or channels-first 4D) to `target_spacing`; cubic for images, nearest for labels."""
    spatial = array.shape[-3:]
    new_shape, new_affine = resampled_grid(spatial, affine, target_spacing)
    zoom = np.asarray(new_shape) / np.asarray(spatial)
    order = 0 if is_label else 3

    def one(volume: np.ndarray) -> np.ndarray:
        out = ndimage.zoom(volume, zoom, order=order, mode="nearest", grid_mode=True, prefilter=not is_label)
        return out.astype(volume.dtype if is_label else np.float32)

    if array.ndim == 4:
        return np.stack([one(c) for c in array]), new_affine
    return one(array), new_affine


def resample_to_shape(array: np.ndarray, shape: tuple[int, int, int], is_label: bool = False) -> np.ndarray:
    """Resample back onto a given grid of the same extent (predictions -> the input's native grid)."""
    zoom = np.asarray(shape) / np.asarray(array.shape[-3:])
    order = 0 if is_label else 1
    return ndimage.zoom(array, zoom, order=order, mode="nearest", grid_mode=True)


def foreground_mask(image: np.ndarray) -> np.ndarray:
    """Voxels above the background: above the lowest value, which skull-stripped MR and padded CT share."""
    return image > image.min()


def normalize(image: np.ndarray, modality: str, foreground: np.ndarray | None = None) -> np.ndarray:
    """Per-modality intensity normalisation to roughly zero mean, unit variance in the foreground."""
    image = np.asarray(image, dtype=np.float32)
    if modality.upper() == "CT":
        clipped = np.clip(image, *CT_WINDOW_HU)
        mask = foreground if foreground is not None else clipped > CT_WINDOW_HU[0]
        values = clipped[mask] if mask.any() else clipped.ravel()
        return ((clipped - values.mean()) / max(float(values.std()), 1e-6)).astype(np.float32)
    mask = foreground if foreground is not None else foreground_mask(image)
    if not mask.any():
        return np.zeros_like(image)
    values = image[mask]
    out = (image - values.mean()) / max(float(values.std()), 1e-6)
    out[~mask] = 0.0  # nnU-Net keeps the background of brain-extracted MR at 0 after z-scoring
    return out.astype(np.float32)
