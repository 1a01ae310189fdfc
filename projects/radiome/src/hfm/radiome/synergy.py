"""The radiome bench for cross-domain experiments (`hfm synergy`): tissue class of MNI152 sub-volumes.

Cubes of 16^3 voxels (1 mm) cut from the MNI152 2009 T1 that nilearn ships, z-scored over the head; the label is the
tissue (background, grey or white matter, from nilearn's probability maps) that holds most of the cube's central
4^3 voxels. Train on cubes centred in the left hemisphere, test on the right, so no voxel is shared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hfm.radiome.readers.brain import mni152_tissue
from hfm.radiome.tokenizer import VolumeTokenizer
from hfm.shared.domain_bench import DomainBench

CUBE = 16
CENTRE = 4
PER_CLASS = 60


def _cubes(t1: np.ndarray, label: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    half, core = CUBE // 2, CENTRE // 2
    cubes, labels = [], []
    for x, y, z in centres:
        cubes.append(t1[x - half : x + half, y - half : y + half, z - half : z + half])
        centre = label[x - core : x + core, y - core : y + core, z - core : z + core]
        labels.append(np.bincount(centre.ravel(), minlength=3).argmax())
    return np.stack(cubes)[:, None], np.array(labels)


def radiome_bench(work_dir: Path, smoke: bool, seed: int) -> DomainBench:
    volume, label = mni152_tissue()
    t1 = volume.array.astype(np.float32)
    head = t1 > 0
    t1 = np.where(head, (t1 - t1[head].mean()) / t1[head].std(), 0.0).astype(np.float32)
    rng = np.random.default_rng(seed)
    half = CUBE // 2
    mid = t1.shape[0] // 2  # RAS: the first axis runs from left to right
    split: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, (lo, hi) in {"train": (half, mid - half), "test": (mid + half, t1.shape[0] - half)}.items():
        chosen = []
        for tissue in range(3):  # balanced classes: as many cubes of each tissue, centred where it dominates
            xs, ys, zs = np.nonzero(label[lo:hi, half:-half, half:-half] == tissue)
            if tissue == 0:  # background inside the head's bounding box, not empty air
                keep = head[xs + lo, ys + half, zs + half]
                xs, ys, zs = xs[keep], ys[keep], zs[keep]
            pick = rng.choice(len(xs), PER_CLASS, replace=False)
            chosen.append(np.stack([xs[pick] + lo, ys[pick] + half, zs[pick] + half], axis=1))
        split[name] = _cubes(t1, label, np.concatenate(chosen))
    train_x, train_y = split["train"]
    test_x, test_y = split["test"]
    return DomainBench(
        domain="radiome",
        tokenizer=VolumeTokenizer(channels=1, patch=8),
        unlabelled=torch.from_numpy(train_x),
        train_x=torch.from_numpy(train_x),
        train_y=train_y,
        test_x=torch.from_numpy(test_x),
        test_y=test_y,
        description=f"MNI152 T1 (nilearn), {CUBE}^3-voxel cubes -> tissue at the centre (background/GM/WM); "
        "left hemisphere train, right hemisphere test",
    )
