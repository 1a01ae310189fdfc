"""Phantom experiments kept beside the benchmark: the data pipeline's speed against a plain MONAI `Dataset` +
`DataLoader`, and a sliding-window scale test (train on 48^3 phantoms, segment 96^3 ones)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader

from hfm.radiome.baselines import cluster_intensities
from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.radiome.data.patches import PatchDataset, VolumeCache, augmentations
from hfm.radiome.data.preprocess import normalize
from hfm.radiome.format import DatasetJson, export_case, list_cases, write_dataset_json
from hfm.radiome.metrics import dice_per_class
from hfm.radiome.predict import predict_volume
from hfm.radiome.synthetic.phantoms import make_phantom, phantom_affine
from hfm.radiome.training import train
from hfm.shared.curate_driver import DatasetDescription

PHANTOM_LABELS = {"background": 0, "shell": 1, "core": 2}


def phantom_dataset(root: Path, cases: int = 8, shape: tuple[int, int, int] = (48, 48, 48), seed: int = 0) -> Path:
    for i in range(cases):
        image, label = make_phantom(shape, seed=seed + i)
        export_case(root, f"phantom{i:03d}", [image * 100.0], phantom_affine(2.0), label)
    write_dataset_json(root, DatasetJson(channel_names={"0": "T1"}, labels=PHANTOM_LABELS, numTraining=cases))
    return root


def pipeline_speed(curated: Path, items: int = 48, patch: int = 32, batch_size: int = 2) -> tuple[float, float]:
    """(hfm volumes/s, plain MONAI volumes/s) over `items` augmented patches, same files and transforms."""
    from monai import transforms as mt
    from monai.data import Dataset

    hfm_data = PatchDataset(VolumeCache(curated), (patch,) * 3, length=items, with_label=True)
    cases = [c for c in list_cases(curated) if c.split == "train"]
    records = [{"image": str(c.images[0]), "label": str(c.label)} for c in cases]
    records = [records[i % len(records)] for i in range(items)]
    load = mt.Compose(
        [
            mt.LoadImaged(["image", "label"]),
            mt.EnsureChannelFirstd(["image", "label"]),
            augmentations((patch,) * 3, with_label=True),
        ]
    )
    monai_data = Dataset(records, transform=load)
    rates = []
    for dataset in (hfm_data, monai_data):
        start = time.perf_counter()
        for _ in DataLoader(dataset, batch_size=batch_size, num_workers=0):
            pass
        rates.append(items / (time.perf_counter() - start))
    return rates[0], rates[1]


def phantom_scale(work: Path, steps: int = 60, seed: int = 0, tests: int = 3) -> dict[str, float]:
    """Train on 48^3 phantoms, segment `tests` 96^3 phantoms by sliding windows; mean Dice of shell and core."""
    curated = work / "curated"
    describe = DatasetDescription("phantoms", "CC0-1.0", ["HFM (generated phantoms)"])
    curate_nnunet(phantom_dataset(work / "raw"), curated, (2.0, 2.0, 2.0), describe, show_progress=False)
    options = {
        "dataset": str(curated),
        "patch_size": [32, 32, 32],
        "seed": seed,
        "model_args": {"width": 96, "depth": 4, "heads": 3, "features": 8},
    }
    model, _ = train("radiome-segment", options, work / "run", steps, 2, 1e-3, seed)
    scores: dict[str, list[float]] = {"hfm": [], "kmeans": [], "otsu": []}
    seconds = 0.0
    for test in range(tests):
        image, label = make_phantom((96, 96, 96), seed=1000 + test)
        start = time.perf_counter()
        prediction = predict_volume(model, normalize(image * 100.0, "MR")[None], (32, 32, 32))
        seconds += time.perf_counter() - start
        scores["hfm"].append(np.mean(list(dice_per_class(prediction, label, (1, 2)).values())))
        for method in ("kmeans", "otsu"):
            clusters = cluster_intensities(image, np.ones(image.shape, bool), (0, 1, 2), method, seed)
            scores[method].append(np.mean(list(dice_per_class(clusters, label, (1, 2)).values())))
    return {**{k: float(np.mean(v)) for k, v in scores.items()}, "inference_s": seconds / tests}
