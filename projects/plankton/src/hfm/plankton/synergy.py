"""The plankton bench for cross-domain experiments (`hfm synergy`): real FlowCam images, taxon classification.

The 105 EcoTaxa FlowCam images that planktonclas ships (6 classes), fitted to a 32 x 32 canvas with the pixel-size
channel the plankton encoder uses; a stratified 70/30 split, the training part doubling as unlabelled data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from hfm.plankton.data import load_curated
from hfm.plankton.experiments.mae_cv import load_image_folder, planktonclas_images
from hfm.plankton.quickstart import SKIP_MESSAGE
from hfm.plankton.readers.images import fit_canvas
from hfm.plankton.tokenizer import CHANNELS, model_input
from hfm.shared.artifacts import load_pretrained
from hfm.shared.domain_bench import DomainBench
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import as_encoder, embed
from hfm.shared.models.generic_tokenizers import ImageTokenizer

CANVAS = 32
PATCH = 4


def plankton_bench(work_dir: Path, smoke: bool, seed: int) -> DomainBench:
    folder = planktonclas_images()
    if folder is None:
        raise HFMError(SKIP_MESSAGE.removeprefix("skipped: "))
    images = load_image_folder(folder)
    fitted = [fit_canvas(g, p, CANVAS, "pad") for g, p in zip(images.greys, images.pixel_size_um, strict=True)]
    x = model_input(np.stack([c for c, _ in fitted]), np.array([p for _, p in fitted]))
    train, test = train_test_split(np.arange(len(x)), test_size=0.3, stratify=images.labels, random_state=seed)
    return DomainBench(
        domain="plankton",
        tokenizer=ImageTokenizer(channels=CHANNELS, patch=PATCH),
        unlabelled=x[train],
        train_x=x[train],
        train_y=images.labels[train],
        test_x=x[test],
        test_y=images.labels[test],
        description=f"{len(x)} real FlowCam images (planktonclas), {len(set(images.labels))} taxa, "
        f"{CANVAS}x{CANVAS} canvas + pixel-size channel; stratified 70/30 split",
    )


def embed_curated(dataset_dir: str | Path, model_dir: str | Path) -> tuple[np.ndarray, pd.DataFrame]:
    """The `embed` hook of `hfm synergy atlas`: every curated object as the plankton encoder reads it (its canvas and
    the pixel-size channel), embedded by an exported plankton encoder; the metadata rows with `key` = object_id."""
    canvases, pixel_sizes, table = load_curated(dataset_dir)
    model, _ = load_pretrained(model_dir)
    encoder = as_encoder(model)
    channels = getattr(encoder.tokenizer, "channels", None)
    if channels != CHANNELS:
        raise HFMError(
            f"{model_dir}: the encoder takes {channels} channels; plankton objects are {CHANNELS} (canvas and scale), "
            "as a plankton-* model reads them"
        )
    embeddings = embed(encoder, model_input(canvases, pixel_sizes))
    table.insert(0, "key", table["object_id"].astype(str))
    return embeddings, table
