"""Benchmark on real FlowCam images: hfm encoder against pixel and morphology baselines, fold by fold.

The data are the 105 FlowCam images in 6 classes that `planktonclas==0.2.4` ships (EcoTaxa exports; install the
package with `--no-deps`). Protocol: 5-fold stratified cross-validation with one seed; in each fold the encoder is
pretrained (masked autoencoding) on the training images only, without their labels, then a class-weighted linear
head is fitted on its embeddings; the two baselines are fitted on the same training images. Accuracy and macro-F1 on
the held-out fold, mean and standard deviation over folds. The images carry no pixel size, so a nominal 1 um/px is
used for all; sizes are then in pixel units and the scale channel is constant.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold

from hfm.plankton.baselines import morphology_forest, morphology_with_size, pixel_features, pixel_logistic
from hfm.plankton.models import PlanktonModelConfig
from hfm.plankton.models.heads import ClassificationHead, coverage_scores
from hfm.plankton.readers.folders import read_image_folder
from hfm.plankton.readers.images import decode_image, fit_canvas
from hfm.plankton.tokenizer import model_input
from hfm.plankton.training import pretrain_canvases
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import embed

NOMINAL_PIXEL_SIZE_UM = 1.0
METHODS = ("hfm MAE + linear head", "pixels + logistic regression", "morphology + random forest")


def planktonclas_images() -> Path | None:
    """The demo-images folder of the installed planktonclas package, found without importing it (TensorFlow)."""
    spec = importlib.util.find_spec("planktonclas")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "resources" / "demo-images"
    return folder if folder.is_dir() else None


@dataclass
class ImageSet:
    greys: list[np.ndarray]
    labels: np.ndarray
    pixel_size_um: np.ndarray
    names: list[str] = field(default_factory=list)


def load_image_folder(root: Path, pixel_size_um: float = NOMINAL_PIXEL_SIZE_UM) -> ImageSet:
    objects = read_image_folder(root, instrument="FlowCam", pixel_size_um=pixel_size_um)
    greys = [decode_image(objects.read_image(i), objects.table.at[i, "image_path"]).grey for i in range(len(objects))]
    return ImageSet(
        greys,
        objects.table["taxon"].to_numpy().astype(str),
        objects.table["pixel_size_um"].to_numpy(np.float64),
        list(objects.table["object_id"]),
    )


def _scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro")),
    }


def cross_validate(
    data: ImageSet,
    folds: int = 5,
    seed: int = 0,
    pretrain_steps: int = 150,
    model: PlanktonModelConfig | None = None,
    threshold: float = 0.5,
    work_dir: str | Path | None = None,
) -> dict[str, Any]:
    """All three methods on the same stratified folds; per-fold and summary scores."""
    model = model or PlanktonModelConfig()
    if np.unique(data.labels, return_counts=True)[1].min() < folds:
        raise HFMError(f"every class needs at least {folds} images for {folds}-fold cross-validation")
    canvases = [fit_canvas(g, p, model.canvas, "pad") for g, p in zip(data.greys, data.pixel_size_um, strict=True)]
    canvas_images, canvas_pixels = np.stack([c for c, _ in canvases]), np.array([p for _, p in canvases])
    inputs = model_input(canvas_images, canvas_pixels)
    pixels = np.stack([pixel_features(g) for g in data.greys])
    morphology = np.stack([morphology_with_size(g, p) for g, p in zip(data.greys, data.pixel_size_um, strict=True)])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    per_fold: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
    abstain: list[dict[str, float]] = []
    pretrain_info = []
    with tempfile.TemporaryDirectory(dir=work_dir) as scratch:
        for fold, (train, test) in enumerate(splitter.split(pixels, data.labels)):
            y_train, y_test = data.labels[train], data.labels[test]
            mae, info = pretrain_canvases(
                canvas_images[train],
                canvas_pixels[train],
                Path(scratch) / f"fold{fold}",
                model,
                steps=pretrain_steps,
                seed=seed + fold,
            )
            pretrain_info.append(info)
            features = embed(mae, inputs)
            head = ClassificationHead.fit(features[train], y_train, seed=seed)
            predicted, _ = head.predict(features[test], threshold=0.0)
            per_fold[METHODS[0]].append(_scores(y_test, np.asarray(predicted)))
            abstain.append(coverage_scores(y_test, head.predict(features[test], threshold=threshold)[0]))
            baseline = pixel_logistic(seed).fit(pixels[train], y_train)
            per_fold[METHODS[1]].append(_scores(y_test, baseline.predict(pixels[test])))
            forest = morphology_forest(seed).fit(morphology[train], y_train)
            per_fold[METHODS[2]].append(_scores(y_test, forest.predict(morphology[test])))
    summary = {
        method: {
            metric: {
                "mean": float(np.mean([f[metric] for f in folds_])),
                "std": float(np.std([f[metric] for f in folds_])),
            }
            for metric in ("accuracy", "macro_f1")
        }
        for method, folds_ in per_fold.items()
    }
    return {
        "images": len(data.labels),
        "classes": {str(c): int(n) for c, n in zip(*np.unique(data.labels, return_counts=True), strict=True)},
        "folds": folds,
        "seed": seed,
        "pretrain_steps": pretrain_steps,
        "summary": summary,
        "per_fold": per_fold,
        "threshold": threshold,
        "abstention": {k: float(np.nanmean([a[k] for a in abstain])) for k in abstain[0]},
        "pretrain": pretrain_info,
    }


def markdown_table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['images']} images, {len(result['classes'])} classes, {result['folds']}-fold stratified CV "
        f"(seed {result['seed']}), MAE pretraining {result['pretrain_steps']} steps per fold on the training folds.",
        "",
        "| method | accuracy | macro-F1 |",
        "|---|---|---|",
    ]
    for method, scores in result["summary"].items():
        acc, f1 = scores["accuracy"], scores["macro_f1"]
        lines.append(f"| {method} | {acc['mean']:.3f} ± {acc['std']:.3f} | {f1['mean']:.3f} ± {f1['std']:.3f} |")
    a = result["abstention"]
    lines += [
        "",
        f"With a confidence threshold of {result['threshold']}, the hfm head assigns {a['coverage']:.0%} of the "
        f"objects, with accuracy {a['accuracy_assigned']:.3f} and macro-F1 {a['macro_f1_assigned']:.3f} on those; "
        "the rest is left unassigned for a person.",
    ]
    return "\n".join(lines) + "\n"


def timed(fn, *args, **kwargs) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start
