"""Per-fold in-domain pretraining: the encoder keeps learning on the evaluated set's own unlabelled training images.

The leave-dataset-out encoder (`hfm.plankton.experiments.study`) never saw an image of the set it is evaluated on.
The issue allows more: pretraining on every unlabelled image except the evaluation's test fold. Per fold, a copy of
the leave-dataset-out encoder continues SimCLR on its pretraining sources plus the evaluated source's training-fold
images (labels unused). Continuing instead of starting again makes the encoder longer-trained for the cost of the
extra steps only. `in_fold_rows` is the one place that picks those images, and it refuses a test row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from safetensors.torch import load_file, save_file

from hfm.plankton.models.cnn import EncoderConfig, PlanktonCNN, pretrain_encoder

# Continued SimCLR steps per fold, chosen on the dev split (docs/plankton.md, "in-fold pretraining").
IN_FOLD_STEPS = 300


def in_fold_rows(
    table: pd.DataFrame, source: str, other_sources: Sequence[str], source_rows: np.ndarray, train: np.ndarray
) -> np.ndarray:
    """Corpus rows an in-fold encoder pretrains on: every row of `other_sources` and the training fold of `source`.

    `source_rows` are the corpus rows of the evaluated source; `train` indexes them (as the CV splits do). Any row of
    `source` outside `train` (its test fold, its unlabelled objects) is left out."""
    if source in other_sources:
        raise ValueError(f"{source} is the evaluated source; only its training fold may be pretrained on")
    others = np.flatnonzero(table["source"].isin(other_sources).to_numpy())
    return np.sort(np.concatenate([others, np.asarray(source_rows)[np.asarray(train)]]))


def weights_digest(encoder: PlanktonCNN | None) -> str:
    """12 hex digits of the encoder's weights ("random" for none): what a cache key says about a starting point."""
    if encoder is None:
        return "random"
    return hashlib.sha256(b"".join(v.numpy().tobytes() for v in encoder.state_dict().values())).hexdigest()[:12]


def _continue(job: tuple[np.ndarray, EncoderConfig, dict]) -> dict:
    canvases, config, base_state = job
    import torch

    torch.set_num_threads(1)  # one process per CPU, as the study's other trainings
    base = PlanktonCNN(config.width)
    base.load_state_dict(base_state)
    encoder, _ = pretrain_encoder(canvases, config, init=base)
    return encoder.state_dict()


def in_fold_encoders(
    canvases: np.ndarray,
    fold_rows: list[np.ndarray],
    base: PlanktonCNN,
    config: EncoderConfig,
    cache: Path,
    tag: str,
    steps: int = IN_FOLD_STEPS,
    runner: Callable[[Callable, list], list] = lambda f, jobs: [f(j) for j in jobs],
) -> list[PlanktonCNN]:
    """One encoder per fold: `base` continued for `steps` SimCLR steps on `canvases[rows]` for each fold's rows.

    Cached as safetensors under `cache`, keyed by the base weights, config, steps and the rows; the missing folds
    run through `runner` (the study passes its process pool)."""
    config = replace(config, steps=steps)
    base_state = base.state_dict()
    digest = weights_digest(base)
    paths = []
    for fold, rows in enumerate(fold_rows):
        stamp = hashlib.sha256(repr((config, digest, np.asarray(rows).tolist())).encode()).hexdigest()[:12]
        paths.append(Path(cache) / f"encoder-in-fold-{tag}-{fold}-{stamp}.safetensors")
    missing = [i for i, path in enumerate(paths) if not path.is_file()]
    states = runner(_continue, [(canvases[fold_rows[i]], config, base_state) for i in missing])
    for i, state in zip(missing, states, strict=True):
        paths[i].parent.mkdir(parents=True, exist_ok=True)
        save_file(state, paths[i])
    encoders = []
    for path in paths:
        encoder = PlanktonCNN(config.width)
        encoder.load_state_dict(load_file(path))
        encoders.append(encoder.eval())
    return encoders
