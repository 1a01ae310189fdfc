"""Segmentation metrics: Dice per class, Dice and 95% Hausdorff of the tissue classes (MONAI), Dice per axial slab."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hfm.radiome.readers.subjects import CSF, GM, TISSUE_NAMES, WM
from hfm.shared.errors import HFMError


def dice_per_class(prediction: np.ndarray, reference: np.ndarray, classes: Sequence[int]) -> dict[int, float]:
    """Dice of each class (1.0 where both are empty, as nnU-Net reports it)."""
    out = {}
    for c in classes:
        p, r = prediction == c, reference == c
        denominator = int(p.sum()) + int(r.sum())
        out[int(c)] = 1.0 if denominator == 0 else 2.0 * int((p & r).sum()) / denominator
    return out


def _bounding_box(mask: np.ndarray, margin: int = 2) -> tuple[slice, ...]:
    where = np.argwhere(mask)
    if len(where) == 0:
        return tuple(slice(0, 1) for _ in mask.shape)
    low = np.maximum(where.min(0) - margin, 0)
    high = np.minimum(where.max(0) + 1 + margin, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))


def tissue_metrics(
    prediction: np.ndarray, reference: np.ndarray, spacing: Sequence[float] = (1.0, 1.0, 1.0)
) -> dict[str, dict[str, float]]:
    """Dice and 95% Hausdorff distance (mm) of CSF, GM and WM with MONAI's metrics, on the grid given.

    Both volumes are cropped to the box holding every non-background voxel of either (distances do not change).
    HD95 is NaN where a class is empty in the prediction or the reference.
    """
    import torch
    from monai.metrics import compute_dice, compute_hausdorff_distance

    if prediction.shape != reference.shape:
        raise HFMError(f"prediction {prediction.shape} and reference {reference.shape} differ in shape")
    box = _bounding_box((prediction > 0) | (reference > 0))
    p, r = (torch.as_tensor(np.ascontiguousarray(a[box]).astype(np.int64)) for a in (prediction, reference))
    onehot = [torch.nn.functional.one_hot(a, 4).permute(3, 0, 1, 2)[None].float() for a in (p, r)]
    dice = compute_dice(onehot[0], onehot[1], include_background=False, ignore_empty=False)[0]
    hd95 = compute_hausdorff_distance(
        onehot[0], onehot[1], include_background=False, percentile=95, spacing=list(spacing)
    )[0]
    return {
        name: {"dice": float(dice[i]), "hd95": float(hd95[i]) if torch.isfinite(hd95[i]) else float("nan")}
        for i, name in enumerate(TISSUE_NAMES)
    }


def slab_dice(prediction: np.ndarray, reference: np.ndarray, mask: np.ndarray, slabs: int = 8) -> np.ndarray:
    """Mean CSF/GM/WM Dice in each of `slabs` equal axial (superior-inferior) slabs of the brain mask.

    The per-region units of the benchmark's paired interval: with two subjects a bootstrap over subjects is
    degenerate, so each subject's brain is cut into slabs along the last (S) axis of the RAS grid.
    """
    box = _bounding_box(mask, margin=0)
    edges = np.linspace(box[2].start, box[2].stop, slabs + 1).round().astype(int)
    out = np.zeros(slabs)
    for i in range(slabs):
        p, r = prediction[..., edges[i] : edges[i + 1]], reference[..., edges[i] : edges[i + 1]]
        scores = []
        for c in (CSF, GM, WM):
            denominator = int((p == c).sum()) + int((r == c).sum())
            scores.append(1.0 if denominator == 0 else 2.0 * int(((p == c) & (r == c)).sum()) / denominator)
        out[i] = np.mean(scores)
    return out
