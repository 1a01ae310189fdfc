"""Semi-supervised fine-tuning of the plankton CNN: FixMatch-style consistency on unlabelled images of the same set.

The realistic case for a foundation model is few labels and many unlabelled images from the same instrument. Each
step takes a class-balanced labelled batch (cross-entropy, the usual augmentation) and an unlabelled batch seen
twice: a weak view (the usual augmentation) whose confident predictions (max probability >= `threshold`) become
hard pseudo-labels for a strong view of the same image (the usual augmentation plus a cut-out square and more sensor
noise). Rotation, mirror and scale stay the plankton augmentations; no colour jitter (grey levels are opacity).
Sohn et al. 2020 (FixMatch) is the idea; the code is ours and runs in the same loop as `train_scratch_cnn`.

The unlabelled images must come from the training side of a split only: the caller passes them explicitly, and
`hfm.plankton.experiments.semi_supervised` takes them as the training fold minus its labelled subset.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from hfm.plankton.models.cnn import PlanktonCNN, augment, encode, standardise, start_classifier


@dataclass(frozen=True)
class FixMatchConfig:
    steps: int = 300
    batch: int = 32  # labelled images per step; the unlabelled batch is `ratio` times that
    ratio: int = 1
    threshold: float = 0.8  # confidence of the weak view above which its prediction is a pseudo-label
    weight: float = 1.0  # the unlabelled loss's weight beside the labelled cross-entropy
    lr: float = 2e-3
    width: int = 16
    seed: int = 0
    # < 1: layer-wise learning-rate decay below the head (`start_classifier`). Out of the repr, so the cache keys of
    # the single-rate recipe stay as they were; `hfm.plankton.experiments.study` adds it to a key when it is not 1.
    layer_decay: float = field(default=1.0, repr=False)


def strong_augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The usual augmentation, then one cut-out square (a quarter to a half of the side, set to the background level)
    and twice the sensor noise: the view the pseudo-label must survive."""
    out = augment(x, generator)
    n, _, height, width = out.shape
    side = (torch.rand(n, generator=generator) * 0.25 + 0.25) * width
    centre = torch.rand(n, 2, generator=generator) * torch.tensor([height, width], dtype=torch.float32)
    rows = torch.arange(height, dtype=torch.float32)[None, :, None]
    cols = torch.arange(width, dtype=torch.float32)[None, None, :]
    inside = ((rows - centre[:, 0, None, None]).abs() < side[:, None, None] / 2) & (
        (cols - centre[:, 1, None, None]).abs() < side[:, None, None] / 2
    )
    out = out.masked_fill(inside[:, None], 0.0)  # standardisation put the background at zero
    return out + 0.05 * torch.randn(out.shape, generator=generator)


def train_fixmatch_cnn(
    canvases: np.ndarray,
    labels: np.ndarray,
    unlabelled: np.ndarray,
    config: FixMatchConfig | None = None,
    init: PlanktonCNN | None = None,
) -> tuple[tuple[PlanktonCNN, nn.Linear, list[str]], dict[str, float]]:
    """Train (or, with `init`, fine-tune a copy of a pretrained encoder) on labelled `canvases` and `unlabelled`
    canvases; returns the model as `train_scratch_cnn` does and a log (share of unlabelled views pseudo-labelled)."""
    config = config or FixMatchConfig()
    run = start_classifier(
        canvases, labels, config.steps, config.width, config.seed, config.lr, init, config.layer_decay
    )
    u = standardise(unlabelled)
    generator = run.generator
    masked = []
    n_unlabelled = config.batch * config.ratio
    for _ in range(config.steps):
        index = torch.multinomial(run.weights, config.batch, replacement=True, generator=generator)
        batch_u = u[torch.randint(len(u), (n_unlabelled,), generator=generator)]
        # One forward over the three views so batch normalisation sees labelled and unlabelled images together.
        views = torch.cat(
            [augment(run.x[index], generator), augment(batch_u, generator), strong_augment(batch_u, generator)]
        )
        logits = run.head(run.network(views))
        labelled, weak, strong = logits[: config.batch], *logits[config.batch :].chunk(2)
        confidence, pseudo = F.softmax(weak.detach(), dim=1).max(dim=1)
        keep = (confidence >= config.threshold).float()
        unlabelled_loss = (F.cross_entropy(strong, pseudo, reduction="none") * keep).mean()
        run.step(F.cross_entropy(labelled, run.y[index]) + config.weight * unlabelled_loss)
        masked.append(float(keep.mean()))
    run.network.eval()
    log = {"pseudo_labelled_first": float(np.mean(masked[:20])), "pseudo_labelled_last": float(np.mean(masked[-20:]))}
    return (run.network, run.head, run.classes), log


@torch.no_grad()
def cnn_probabilities(model: tuple[PlanktonCNN, nn.Linear, list[str]], canvases: np.ndarray) -> np.ndarray:
    """Class probabilities (N, classes) of a trained CNN, columns in the model's sorted class order."""
    network, head, _ = model
    return F.softmax(head(torch.from_numpy(encode(network, canvases))), dim=1).numpy()
