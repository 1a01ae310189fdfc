"""The multi-instrument plankton encoder: a small convolutional network pretrained by contrastive learning.

Why a CNN and not the MAE on the shared ViT: on a CPU the budget is a few minutes, and a conv stem with stride 2 sees
a 64 x 64 canvas at a quarter of the cost while keeping translation equivariance, which 1,000-2,000 images cannot
teach a transformer. Pretraining is SimCLR (NT-Xent between two augmented views of each image; Chen et al. 2020)
with augmentations that respect plankton imaging: any rotation and mirror (organisms drift in every orientation),
scale 0.8-1.25 (sizes vary within a taxon and between instruments), small shifts, and sensor noise; no colour or
brightness jitter, because the images are grey and their grey levels carry the organism's opacity.

Each canvas is standardised on its own (minus its border level, over its spread), so the FlowCam's bright field and
the IFCB's dark background land on one scale. The frozen encoder's pooled features feed cheap heads (see
`hfm.plankton.experiments.crossval`); the same network trained from scratch on labels is the CNN baseline.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class EncoderConfig:
    canvas: int = 64
    width: int = 24  # channels after the stem; doubled at each of the three stages
    steps: int = 400
    batch: int = 128  # images per step (two views each)
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 0.2
    seed: int = 0


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class PlanktonCNN(nn.Module):
    """Conv stem (stride 2) and three stages (stride 2 each); average- and max-pooled features concatenated."""

    def __init__(self, width: int = 24) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            _block(1, w, 2),
            _block(w, 2 * w, 2),
            _block(2 * w, 2 * w, 1),
            _block(2 * w, 4 * w, 2),
            _block(4 * w, 4 * w, 1),
            _block(4 * w, 8 * w, 2),
            _block(8 * w, 8 * w, 1),
        )
        self.dim = 16 * w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)


def standardise(canvases: np.ndarray) -> torch.Tensor:
    """(N, S, S) grey canvases -> (N, 1, S, S): minus the border level, over the image's spread."""
    x = torch.as_tensor(np.asarray(canvases, dtype=np.float32))
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=1)
    level = border.median(dim=1).values[:, None, None]
    spread = x.flatten(1).std(dim=1)[:, None, None]
    return ((x - level) / (spread + 0.02))[:, None]


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random rotation (any angle), mirror, scale 0.8-1.25, shift up to 8 %, and Gaussian sensor noise."""
    n = x.shape[0]
    angle = torch.rand(n, generator=generator) * 2 * math.pi
    scale = torch.exp((torch.rand(n, generator=generator) * 2 - 1) * math.log(1.25))
    mirror = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * 0.08
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * mirror, -sin, shift[:, 0]], 1), torch.stack([sin * mirror, cos, shift[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Outside the image: the background level, which standardisation put at zero.
    out = F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)
    return out + 0.05 * torch.randn(out.shape, generator=generator)


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits.fill_diagonal_(float("-inf"))
    n = z1.shape[0]
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(logits, target)


def pretrain_encoder(
    canvases: np.ndarray, config: EncoderConfig | None = None, init: PlanktonCNN | None = None
) -> tuple[PlanktonCNN, dict]:
    """SimCLR pretraining on unlabelled canvases; returns the encoder (eval mode) and a log of the run.

    With `init`, a copy of that encoder continues pretraining (a fresh projector and schedule): how a per-fold
    encoder adds the evaluated set's own unlabelled images to one pretrained on the other instruments."""
    config = config or EncoderConfig()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    x = standardise(canvases)
    encoder = PlanktonCNN(config.width)
    if init is not None:
        encoder.load_state_dict(init.state_dict())
    projector = nn.Sequential(nn.Linear(encoder.dim, 256), nn.ReLU(inplace=True), nn.Linear(256, 128))
    params = [*encoder.parameters(), *projector.parameters()]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.lr, total_steps=config.steps, pct_start=0.1)
    encoder.train()
    losses, start = [], time.perf_counter()
    for _ in range(config.steps):
        batch = x[torch.randint(len(x), (min(config.batch, len(x)),), generator=generator)]
        loss = nt_xent(
            projector(encoder(augment(batch, generator))),
            projector(encoder(augment(batch, generator))),
            config.temperature,
        )
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    encoder.eval()
    log = {
        **asdict(config),
        "images": len(x),
        "seconds": time.perf_counter() - start,
        "loss_first": float(np.mean(losses[:20])),
        "loss_last": float(np.mean(losses[-20:])),
    }
    return encoder, log


@torch.no_grad()
def encode(encoder: PlanktonCNN, canvases: np.ndarray, batch: int = 256) -> np.ndarray:
    """Frozen features (N, dim) of canvases, in eval mode."""
    encoder.eval()
    x = standardise(canvases)
    return torch.cat([encoder(x[i : i + batch]) for i in range(0, len(x), batch)]).numpy()


@dataclass
class ClassifierTraining:
    """What a supervised CNN training here starts from: standardised images, class indices (sorted class names),
    class-balanced sampling weights, the network (a copy of `init` when given) with a linear head, AdamW with a
    one-cycle schedule, and the seeded generator that draws batches and augmentations."""

    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]
    weights: torch.Tensor
    network: PlanktonCNN
    head: nn.Linear
    optimiser: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator

    def step(self, loss: torch.Tensor) -> None:
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.schedule.step()


def start_classifier(
    canvases: np.ndarray,
    labels: np.ndarray,
    steps: int,
    width: int,
    seed: int,
    lr: float = 2e-3,
    init: PlanktonCNN | None = None,
    layer_decay: float = 1.0,
) -> ClassifierTraining:
    """Seed, network, head and optimiser of a classifier training (the scratch CNN's recipe), network in train mode.

    Class-balanced sampling weights (each batch draws classes uniformly) so small classes are learnt, as the heads
    weight them. `layer_decay` < 1: layer-wise learning-rate decay, the head at `lr` and block i of the body (0 the
    stem) at lr x layer_decay ** (blocks - i), so a pretrained stem moves least; 1.0 is the single-rate recipe.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    classes = sorted(set(labels.tolist()))
    y = torch.as_tensor(np.searchsorted(classes, labels))
    counts = torch.bincount(y, minlength=len(classes)).float()
    network = PlanktonCNN(width)
    if init is not None:
        network.load_state_dict(init.state_dict())
    head = nn.Linear(network.dim, len(classes))
    if not 0.0 < layer_decay <= 1.0:
        raise ValueError(f"layer_decay must lie in (0, 1], got {layer_decay}")
    if layer_decay == 1.0:
        groups, rates = [{"params": [*network.parameters(), *head.parameters()]}], lr
    else:
        blocks = list(network.body)
        groups = [{"params": list(b.parameters())} for b in blocks] + [{"params": list(head.parameters())}]
        rates = [lr * layer_decay ** (len(blocks) - i) for i in range(len(blocks))] + [lr]
    optimiser = torch.optim.AdamW(groups, lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, rates, total_steps=steps, pct_start=0.1)
    network.train()
    return ClassifierTraining(
        standardise(canvases), y, classes, (1.0 / counts)[y], network, head, optimiser, schedule, generator
    )


def train_scratch_cnn(
    canvases: np.ndarray,
    labels: np.ndarray,
    steps: int,
    width: int = 24,
    batch: int = 64,
    seed: int = 0,
    init: PlanktonCNN | None = None,
) -> tuple[PlanktonCNN, nn.Linear, list[str]]:
    """The CNN baseline: the same network and augmentation trained from random weights on labels alone; with `init`,
    the same recipe fine-tunes a copy of a pretrained encoder instead (hfm's fine-tuned variant)."""
    run = start_classifier(canvases, labels, steps, width, seed, init=init)
    for _ in range(steps):
        index = torch.multinomial(run.weights, batch, replacement=True, generator=run.generator)
        run.step(F.cross_entropy(run.head(run.network(augment(run.x[index], run.generator))), run.y[index]))
    run.network.eval()
    return run.network, run.head, run.classes


@torch.no_grad()
def predict_scratch_cnn(model: tuple[PlanktonCNN, nn.Linear, list[str]], canvases: np.ndarray) -> np.ndarray:
    network, head, classes = model
    logits = head(torch.from_numpy(encode(network, canvases)))
    return np.asarray(classes)[logits.argmax(dim=1).numpy()]
