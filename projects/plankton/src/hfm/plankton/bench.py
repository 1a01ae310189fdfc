"""Benchmarks for `tools/bench.py` (entry-point group `hfm.benchmarks`); each figure beside its baseline, same run.

- plankton-flowcam: 5-fold CV on the 105 planktonclas FlowCam images; hfm macro-F1 and accuracy against pixels +
  logistic regression and against morphology + random forest.
- plankton-assist: decisions to reach 90 % accuracy with bulk cluster validation against one-by-one labelling.
- plankton-loader: images/s of the hfm loader (curated canvases) against a plain PIL + DataLoader loop over the
  original files of the same objects.
- plankton-label-efficiency: synthetic plankton (6 classes), linear probe on hfm embeddings against pixels at 10 %
  of the labels, with the curve written as a PNG.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from threadpoolctl import threadpool_limits
from torch.utils.data import DataLoader, Dataset

from hfm.plankton.assist import count_decisions
from hfm.plankton.baselines import pixel_features
from hfm.plankton.benchmark import (
    METHODS,
    cross_validate,
    load_image_folder,
    planktonclas_images,
)
from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.folders import read_image_folder
from hfm.plankton.images import fit_canvas
from hfm.plankton.loader import CuratedPlanktonDataset
from hfm.plankton.model import PlanktonModelConfig, model_input
from hfm.plankton.pretrain import load_curated, pretrain
from hfm.plankton.synthetic import make_synthetic
from hfm.shared.errors import HFMError
from hfm.shared.eval.efficiency import label_efficiency
from hfm.shared.eval.embeddings import embed
from hfm.shared.eval.probes import linear_probe
from hfm.shared.eval.report import write_report

STEPS = 100


def _images() -> Path:
    root = planktonclas_images()
    if root is None:
        raise HFMError("planktonclas is not installed: pip install --no-deps planktonclas==0.2.4")
    _single_thread()
    return root


def _single_thread() -> None:
    torch.set_num_threads(1)
    threadpool_limits(1)


def _figure(name: str, value: float, baseline: float, unit: str, command: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "baseline": baseline,
        "ratio": value / baseline if baseline else float("nan"),
        "unit": unit,
        "command": command,
        **extra,
    }


def flowcam_figures() -> list[dict[str, Any]]:
    result = cross_validate(load_image_folder(_images()), folds=5, seed=0, pretrain_steps=STEPS)
    summary = result["summary"]
    command = f"hfm plankton evaluate OUT --steps {STEPS}"
    hfm, pixels, morphology = (summary[m] for m in METHODS)
    return [
        _figure(
            "macro-F1, hfm vs pixels+LR",
            hfm["macro_f1"]["mean"],
            pixels["macro_f1"]["mean"],
            "macro-F1",
            command,
            goal="> 1",
            notes="5-fold CV, 105 FlowCam images, 6 classes; README reference for the baseline 0.51",
        ),
        _figure("accuracy, hfm vs pixels+LR", hfm["accuracy"]["mean"], pixels["accuracy"]["mean"], "accuracy", command),
        _figure(
            "macro-F1, hfm vs morphology+RF",
            hfm["macro_f1"]["mean"],
            morphology["macro_f1"]["mean"],
            "macro-F1",
            command,
            goal="> 1",
        ),
        _figure(
            "accuracy, hfm vs morphology+RF",
            hfm["accuracy"]["mean"],
            morphology["accuracy"]["mean"],
            "accuracy",
            command,
        ),
    ]


def assist_figures() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as scratch:
        dataset = Path(scratch) / "dataset"
        curate_objects(read_image_folder(_images(), "FlowCam", 1.0), dataset, CurationConfig(), show_progress=False)
        canvases, pixels, table = load_curated(dataset)
        mae, _ = pretrain(canvases, pixels, Path(scratch) / "run", PlanktonModelConfig(), steps=STEPS)
    features = embed(mae, model_input(canvases, pixels))
    result = count_decisions(features, table["taxon"].to_numpy(), target=0.9, n_clusters=12)
    bulk = result.bulk if result.bulk is not None else len(table)
    return [
        _figure(
            "decisions to 90% accuracy, bulk vs one by one",
            bulk,
            result.one_by_one,
            "decisions",
            "hfm plankton assist DATASET MODEL OUT --clusters 12 --target 0.9",
            goal="< 1",
            notes=f"k-means 12 clusters, purity {result.purity:.2f}; one by one + classifier: "
            f"{result.one_by_one_classifier} decisions",
        ),
    ]


class _PlainPILDataset(Dataset):
    """What one writes without hfm: open the file, grey, resize to the canvas, to a tensor."""

    def __init__(self, paths: list[Path], side: int) -> None:
        self.paths, self.side = paths, side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        with Image.open(self.paths[index]) as image:
            grey = image.convert("L").resize((self.side, self.side), Image.BILINEAR)
        return torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255.0)[None]


def _rate(loader: DataLoader, repeats: int = 3) -> float:
    best = 0.0
    for _ in range(repeats):
        start, count = time.perf_counter(), 0
        for batch in loader:
            count += len(batch[0]) if isinstance(batch, list | tuple) else len(batch)
        best = max(best, count / (time.perf_counter() - start))
    return best


def loader_figures() -> list[dict[str, Any]]:
    root = _images()
    objects = read_image_folder(root, "FlowCam", 1.0)
    with tempfile.TemporaryDirectory() as scratch:
        dataset = Path(scratch) / "dataset"
        curate_objects(objects, dataset, CurationConfig(canvas=64), show_progress=False)
        hfm = _rate(DataLoader(CuratedPlanktonDataset(dataset), batch_size=32))
    plain = _rate(DataLoader(_PlainPILDataset([root / p for p in objects.table["image_path"]], 64), batch_size=32))
    return [
        _figure(
            "loader images/s, hfm curated vs plain PIL+DataLoader",
            hfm,
            plain,
            "images/s",
            "python tools/bench.py --only plankton-loader",
            notes="same 105 objects, batch 32, no workers, best of 3; the hfm loader reads 16-bit canvases with "
            "pixel size, the plain loop decodes JPEGs and resizes (no scale kept)",
        ),
    ]


def label_efficiency_figures(out_dir: str | Path = "benchmarks/plankton") -> list[dict[str, Any]]:
    _single_thread()
    train, test = make_synthetic(30, seed=0), make_synthetic(20, seed=1)

    def inputs(data):
        fitted = [fit_canvas(g, p, 64, "pad") for g, p in zip(data.images, data.pixel_size_um, strict=True)]
        return np.stack([c for c, _ in fitted]), np.array([p for _, p in fitted])

    (train_c, train_p), (test_c, test_p) = inputs(train), inputs(test)
    with tempfile.TemporaryDirectory() as scratch:
        mae, _ = pretrain(train_c, train_p, Path(scratch), PlanktonModelConfig(), steps=STEPS)
    hfm_train, hfm_test = embed(mae, model_input(train_c, train_p)), embed(mae, model_input(test_c, test_p))
    pix_train = np.stack([pixel_features(g) for g in train.images])
    pix_test = np.stack([pixel_features(g) for g in test.images])
    fractions, seeds = (0.1, 0.25, 0.5, 1.0), (0, 1, 2)
    curves = [
        label_efficiency(hfm_train, train.labels, hfm_test, test.labels, fractions=fractions, seeds=seeds, name="hfm"),
        label_efficiency(
            pix_train,
            train.labels,
            pix_test,
            test.labels,
            fractions=fractions,
            seeds=seeds,
            name="pixels",
            protocol=linear_probe,
        ),
    ]
    write_report(out_dir, "Plankton label efficiency (synthetic, 6 classes)", curves=curves)
    at_10 = [c.points[0].mean for c in curves]
    return [
        _figure(
            "synthetic accuracy at 10% labels, hfm vs pixels",
            at_10[0],
            at_10[1],
            curves[0].metric,
            "python tools/bench.py --only plankton-label-efficiency",
            notes=f"curve in {out_dir}",
        )
    ]
