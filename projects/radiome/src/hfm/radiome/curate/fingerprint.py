"""Dataset fingerprint and plan, following nnU-Net's recipe.

The fingerprint records each training case's spacing and shape and the intensities of the foreground (voxels with a
label above 0), per channel: mean, std, median and the 0.5 / 99.5 percentiles. The plan derives from it the target
spacing (median spacing; on strongly anisotropic data the low-resolution axis takes the 10th percentile, as nnU-Net
does) and a patch size that covers the median resampled shape within a voxel budget and divides by the token size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

from hfm.radiome.data.preprocess import foreground_mask
from hfm.radiome.format import list_cases, load_case, read_dataset_json
from hfm.radiome.readers.volume import voxel_spacing
from hfm.shared.jsonio import dump_json, write_atomic

FINGERPRINT_FILE = "fingerprint.json"
PLAN_FILE = "plan.json"
_VOXELS_PER_CASE = 10000  # foreground voxels sampled per case, as nnU-Net samples them
_ANISOTROPY = 3.0


class ChannelIntensities(BaseModel):
    mean: float
    std: float
    median: float
    percentile_00_5: float
    percentile_99_5: float
    min: float
    max: float


class Fingerprint(BaseModel):
    cases: list[str]
    spacings: list[list[float]]
    shapes: list[list[int]]
    modality: str
    channel_names: dict[str, str]
    labels: dict[str, Any]
    foreground_intensities: dict[str, ChannelIntensities]


class Plan(BaseModel):
    target_spacing: list[float]
    median_shape: list[int]
    patch_size: list[int]
    token_size: int
    modality: str
    normalization: str
    num_channels: int
    num_classes: int


def compute_fingerprint(root: str | Path, seed: int = 0) -> Fingerprint:
    root = Path(root)
    info = read_dataset_json(root)
    rng = np.random.default_rng(seed)
    cases, spacings, shapes = [], [], []
    samples: list[list[np.ndarray]] = [[] for _ in info.channel_names]
    for case in list_cases(root):
        if case.split != "train":
            continue
        image, label, affine, _ = load_case(case, info)
        cases.append(case.key)
        spacings.append([round(s, 6) for s in voxel_spacing(affine)])
        shapes.append([int(n) for n in image.shape[1:]])
        mask = label > 0 if label is not None and (label > 0).any() else foreground_mask(image[0])
        for c in range(image.shape[0]):
            values = image[c][mask]
            if values.size > _VOXELS_PER_CASE:
                values = rng.choice(values, _VOXELS_PER_CASE, replace=False)
            samples[c].append(values)
    intensities = {}
    for c, _name in sorted(info.channel_names.items()):
        values = np.concatenate(samples[int(c)]) if samples[int(c)] else np.zeros(1)
        lo, median, hi = np.percentile(values, [0.5, 50, 99.5])
        intensities[c] = ChannelIntensities(
            mean=float(values.mean()),
            std=float(values.std()),
            median=float(median),
            percentile_00_5=float(lo),
            percentile_99_5=float(hi),
            min=float(values.min()),
            max=float(values.max()),
        )
    return Fingerprint(
        cases=cases,
        spacings=spacings,
        shapes=shapes,
        modality=info.modality(),
        channel_names=info.channel_names,
        labels=info.labels,
        foreground_intensities=intensities,
    )


def target_spacing(spacings: np.ndarray) -> np.ndarray:
    target = np.median(spacings, axis=0)
    worst = int(np.argmax(target))
    others = [i for i in range(3) if i != worst]
    if target[worst] > _ANISOTROPY * min(target[others]):
        target[worst] = np.percentile(spacings[:, worst], 10)
    return target


def make_plan(
    fingerprint: Fingerprint,
    token_size: int = 8,
    max_patch_voxels: int = 64**3,
    spacing: tuple[float, float, float] | None = None,
) -> Plan:
    """Target spacing and a patch size (multiples of `token_size`) for training on the fingerprinted data."""
    spacings = np.asarray(fingerprint.spacings, dtype=float)
    target = np.asarray(spacing, float) if spacing is not None else target_spacing(spacings)
    resampled = np.asarray(fingerprint.shapes, float) * spacings / target
    median_shape = np.median(resampled, axis=0)
    patch = np.maximum(token_size, np.floor(median_shape / token_size) * token_size).astype(int)
    # Shrink the largest axis until the patch fits the budget (nnU-Net shrinks the axis largest relative to the data).
    while int(np.prod(patch)) > max_patch_voxels:
        axis = int(np.argmax(patch / median_shape))
        if patch[axis] <= token_size:
            axis = int(np.argmax(patch))
        patch[axis] -= token_size
    labels = fingerprint.labels
    return Plan(
        target_spacing=[round(float(s), 6) for s in target],
        median_shape=[round(n) for n in median_shape],
        patch_size=[int(n) for n in patch],
        token_size=token_size,
        modality=fingerprint.modality,
        normalization="CT clip + foreground z-score" if fingerprint.modality == "CT" else "foreground z-score",
        num_channels=len(fingerprint.channel_names),
        num_classes=len(labels),
    )


def save_model(path: Path, model: BaseModel) -> Path:
    write_atomic(path, dump_json(model.model_dump(mode="json")))
    return path
