"""What radiome gives the cross-domain experiments (`hfm synergy`): its bench and the atlas's `embed` hook.

The bench: tissue class of MNI152 sub-volumes. Cubes of 16^3 voxels (1 mm) cut from the MNI152 2009 T1 that
nilearn ships, z-scored over the head; the label is the tissue (background, grey or white matter, from nilearn's
probability maps) that holds most of the cube's central 4^3 voxels. Train on cubes centred in the left hemisphere,
test on the right, so no voxel is shared.

The embed hook (`hfm synergy atlas` of a curated dataset): curated cases keep their own grids, so volumes differ in
shape from case to case. Each case's image is padded with background (0 after curation's normalisation) to a cube
around its centre, so its proportions survive, and resampled onto one grid of `EMBED_SIDE` voxels a side, rounded up
to the encoder's patch: the whole field of view, cut into the same number of tokens for every case.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hfm.radiome.data.preprocess import resample_to_shape
from hfm.radiome.format import NnunetRawFormat
from hfm.radiome.readers.brain import mni152_tissue
from hfm.radiome.tokenizer import VolumeTokenizer
from hfm.shared.artifacts import load_pretrained
from hfm.shared.domain_bench import DomainBench
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import as_encoder, embed

CUBE = 16
CENTRE = 4
PER_CLASS = 60
EMBED_SIDE = 64  # voxels a side of the atlas's common grid: a whole head at about 4 mm, 512 tokens of 8^3
EMBED_BATCH = 8  # cases resampled and embedded at a time: memory does not grow with the dataset


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


def centred_cube(image: np.ndarray) -> np.ndarray:
    """(C, X, Y, Z) -> (C, S, S, S), S the longest side: the volume in the middle, zeros around it."""
    side = max(image.shape[1:])
    pads = [(0, 0)] + [((side - n) // 2, side - n - (side - n) // 2) for n in image.shape[1:]]
    return np.pad(image, pads)


def common_grid(image: np.ndarray, side: int) -> np.ndarray:
    """(C, X, Y, Z) of any shape -> (C, side, side, side) float32 covering the whole field of view."""
    cube = centred_cube(np.asarray(image, dtype=np.float32))
    return np.stack([resample_to_shape(channel, (side, side, side)) for channel in cube]).astype(np.float32)


def embed_curated(
    dataset_dir: str | Path, model_dir: str | Path, side: int = EMBED_SIDE
) -> tuple[np.ndarray, pd.DataFrame]:
    """(N, width) embeddings of every case's image and the format's metadata table (`key` first) in the same order."""
    root = Path(dataset_dir)
    model, _ = load_pretrained(model_dir)
    encoder = as_encoder(model)
    tokenizer = encoder.tokenizer
    if not isinstance(tokenizer, VolumeTokenizer):
        raise HFMError(
            f"{model_dir}: the encoder cuts its input with a {type(tokenizer).__name__}; radiome volumes need a "
            "VolumeTokenizer (a radiome-* model)"
        )
    side = tokenizer.patch * math.ceil(side / tokenizer.patch)
    keys: list[str] = []
    parts: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    for key, sample in NnunetRawFormat().iter_samples(root):
        image = sample.arrays["image"]
        if image.shape[0] != tokenizer.channels:
            raise HFMError(
                f"{root}: case {key!r} has {image.shape[0]} channels, the encoder takes {tokenizer.channels}"
            )
        keys.append(key)
        batch.append(common_grid(image, side))
        if len(batch) == EMBED_BATCH:
            parts.append(embed(encoder, torch.from_numpy(np.stack(batch)), batch_size=EMBED_BATCH))
            batch = []
    if batch:
        parts.append(embed(encoder, torch.from_numpy(np.stack(batch)), batch_size=EMBED_BATCH))
    if not keys:
        raise HFMError(f"{root}: no cases to embed")
    table = NnunetRawFormat().metadata(root)
    if table is None or list(table["key"]) != keys:
        raise HFMError(f"{root}: the metadata rows do not list the cases in the order they were read")
    return np.concatenate(parts), table
