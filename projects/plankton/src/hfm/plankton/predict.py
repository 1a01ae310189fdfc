"""What `hfm plankton predict` runs: a category per object of a curated dataset, written back as an EcoTaxa bundle.

Two ways to a category: a fine-tuned classifier (`hfm plankton finetune`), or a pretrained MAE's frozen embeddings
with a probe head (`hfm plankton probe`, JSON). Either way the most probable class below the confidence threshold is
not trusted: the object stays `unclassified` for a person, as EcoTaxa's "predicted" objects are checked. Validated
objects keep their category. The bundle holds the raw source's objects with their original images and columns, the
predicted category and `object_hfm_confidence`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hfm.plankton.data import load_curated
from hfm.plankton.models import PlanktonClassifier
from hfm.plankton.models.heads import ClassificationHead
from hfm.plankton.readers.ecotaxa import read_ecotaxa, write_ecotaxa
from hfm.plankton.readers.objects import PlanktonObjects
from hfm.plankton.tokenizer import model_input
from hfm.shared.artifacts import load_pretrained
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import embed


def embeddings(dataset: Path, model_dir: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Frozen embeddings of every object from the encoder inside a model artifact, and the dataset's table."""
    images, pixels, table = load_curated(dataset)
    model, _ = load_pretrained(model_dir)
    return embed(model, model_input(images, pixels)), table  # embed refuses a model without an encoder in one line


@torch.no_grad()
def classify(dataset: Path, model_dir: Path, threshold: float) -> tuple[list[str | None], np.ndarray]:
    """Categories (None below `threshold`) and confidences from a fine-tuned `plankton-classifier-tiny`."""
    model, _ = load_pretrained(model_dir)
    if not isinstance(model, PlanktonClassifier):
        name = getattr(model, "hfm_model", {}).get("name")
        raise HFMError(f"{model_dir}: is a {name!r} model; expected 'plankton-classifier-tiny' (or give --head)")
    images, pixels, _ = load_curated(dataset)
    x = model_input(images, pixels)
    model.eval()
    probabilities = torch.cat([model(x[i : i + 64]).softmax(dim=1) for i in range(0, len(x), 64)]).numpy()
    best, confidence = probabilities.argmax(1), probabilities.max(1)
    return [model.taxa[b] if c >= threshold else None for b, c in zip(best, confidence, strict=True)], confidence


def probe(dataset: Path, model_dir: Path, head: Path, threshold: float | None) -> tuple[list[str | None], np.ndarray]:
    features, _ = embeddings(dataset, model_dir)
    return ClassificationHead.load(head).predict(features, threshold)


def write_predictions(
    dataset: Path, source: PlanktonObjects, labels: list[str | None], confidence: np.ndarray, out: Path
) -> tuple[int, int]:
    """The source's objects with the categories predicted on the curated `dataset`, as an EcoTaxa bundle with the
    original images (EcoTaxa shows and measures those, not the model's canvases). Returns (assigned, unvalidated)."""
    curated = read_ecotaxa(dataset).table
    missing = sorted(set(curated["object_id"]) - set(source.table["object_id"]))
    if missing:
        raise HFMError(
            f"{source.origin}: holds no object {missing[0]!r} of {dataset} (give the raw source it was curated from)"
        )
    rows = pd.Series(range(len(source.table)), index=source.table["object_id"])[curated["object_id"]].to_numpy()
    table = source.table.iloc[rows].reset_index(drop=True)
    open_ = (curated["annotation_status"] != "validated").to_numpy()
    predicted = [lab for lab, o in zip(labels, open_, strict=True) if o]
    table.loc[open_, "taxon"] = predicted
    table.loc[open_, "annotation_status"] = ["predicted" if lab else "unclassified" for lab in predicted]
    table["object_hfm_confidence"] = confidence
    write_ecotaxa(
        PlanktonObjects(table, source.store, source.origin, column_types=source.column_types), out, "predictions"
    )
    return sum(1 for lab in predicted if lab), int(open_.sum())
