"""Benchmarks of hfm-radiome for the shared harness (`nox -s bench`, entry-point group `hfm.benchmarks`).

`figures()` returns side-by-side figures measured in one run:
- brain tissue Dice on the ITK subject: hfm against a MONAI UNet from scratch, k-means and multi-Otsu, and the
  same at 25% labelled slices (one point of the label-efficiency curve);
- data pipeline speed: volumes/s of hfm's patch dataset (bounded LRU cache + MONAI augmentation) against a plain
  MONAI `Dataset` + `DataLoader` that loads each NIfTI when asked, on the same phantom files and transforms;
- scale: Dice of hfm and k-means on a phantom twice the training size, segmented by sliding windows.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from hfm.radiome.baselines import cluster_intensities
from hfm.radiome.curate import curate_nnunet
from hfm.radiome.data import PatchDataset, VolumeCache, augmentations
from hfm.radiome.experiment import BrainConfig, BrainResult, run_brain_experiment
from hfm.radiome.infer import dice_per_class, predict_volume
from hfm.radiome.nnunet import DatasetJson, export_case, list_cases, write_dataset_json
from hfm.radiome.phantoms import make_phantom, phantom_affine
from hfm.radiome.preprocess import normalize
from hfm.radiome.tasks import train
from hfm.shared.eval.stats import format_interval, mean_confidence_interval

BRAIN_COMMAND = "hfm radiome benchmark runs/radiome-brain --fractions 0.25,1 --seeds 3"
PHANTOM_LABELS = {"background": 0, "shell": 1, "core": 2}


def _figure(name: str, value: float, baseline: float, unit: str, command: str, notes: str = "") -> dict[str, Any]:
    figure = {
        "name": name,
        "value": value,
        "baseline": baseline,
        "ratio": value / baseline if baseline else float("inf"),
        "unit": unit,
        "command": command,
    }
    return figure | ({"notes": notes} if notes else {})


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
    curate_nnunet(phantom_dataset(work / "raw"), curated, (2.0, 2.0, 2.0), show_progress=False)
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


def figures() -> list[dict[str, Any]]:
    torch.set_num_threads(1)
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="hfm-radiome-bench-") as tmp:
        work = Path(tmp)
        curated = work / "phantoms-curated"
        curate_nnunet(phantom_dataset(work / "phantoms-raw"), curated, (2.0, 2.0, 2.0), show_progress=False)
        hfm_rate, monai_rate = pipeline_speed(curated)
        out.append(
            _figure(
                "data pipeline: hfm bounded cache vs MONAI Dataset+DataLoader",
                hfm_rate,
                monai_rate,
                "volumes/s",
                "nox -s bench -- --only radiome",
                "8 phantom volumes 48^3, 48 augmented 32^3 patches, batch 2, 0 workers",
            )
        )
        scale = phantom_scale(work / "scale")
        out.append(
            _figure(
                "phantom 96^3 (trained on 48^3) sliding-window Dice: hfm vs k-means",
                scale["hfm"],
                scale["kmeans"],
                "Dice",
                "nox -s bench -- --only radiome",
                f"UNETR from scratch 60 steps; inference {scale['inference_s']:.1f} s",
            )
        )
        brain = run_brain_experiment(work / "brain", BrainConfig(fractions=(0.25, 1.0), finetune_seeds=(0, 1, 2)))
    hfm = brain.row("hfm UNETR (MAE-pretrained)")
    for method in ("MONAI UNet (scratch)", "k-means (3 clusters)", "multi-Otsu (3 classes)"):
        base = brain.row(method)
        out.append(
            _figure(
                f"brain tissue Dice (GM/WM mean), ITK subject: hfm vs {method}",
                hfm.mean,
                base.mean,
                "Dice",
                BRAIN_COMMAND,
                f"GM {hfm.grey_matter:.3f} vs {base.grey_matter:.3f}, WM {hfm.white_matter:.3f} vs "
                f"{base.white_matter:.3f}; reference = ITK k-means segmentation; "
                + _spread(brain, "hfm UNETR (MAE-pretrained)", 1.0, method),
            )
        )
    low_hfm, low_unet = brain.row("hfm UNETR (MAE-pretrained)", 0.25), brain.row("MONAI UNet (scratch)", 0.25)
    out.append(
        _figure(
            "brain Dice at 25% labelled slices: hfm vs MONAI UNet (scratch)",
            low_hfm.mean,
            low_unet.mean,
            "Dice",
            BRAIN_COMMAND,
            "label-efficiency point; " + _spread(brain, "hfm UNETR (MAE-pretrained)", 0.25, "MONAI UNet (scratch)"),
        )
    )
    return out


def _spread(brain: BrainResult, method: str, fraction: float, baseline: str) -> str:
    """Mean [95% interval] over fine-tuning seeds of the learned methods in a figure."""
    parts = []
    for name in (method, baseline):
        values = [r.mean for r in brain.seeds(name, fraction)]
        if len(values) > 1:
            interval = format_interval(*mean_confidence_interval(values))
            parts.append(f"{name.split(' (')[0]} {interval} over {len(values)} seeds")
    return "; ".join(parts) if parts else "one seed"
