"""Trainer tasks with typed options (`hfm train` and the CLI shortcuts build them by name; declared in plugin.py).

radiome-mae          dataset: PATH (a curated nnU-Net folder)  patch_size: [32, 32, 32] (plan.json)
                     model: radiome-mae-tiny  model_args: {width: 96, depth: 4}  split: null (every image)
radiome-segment      dataset: PATH  patch_size  model: radiome-unetr-tiny | radiome-unet-baseline  model_args
                     init: PATH|null (an MAE whose encoder starts the model)  label_fraction: 1.0  split: train
radiome-synthseg     dataset: PATH|null (label maps; null: SynthSeg's 20)  label_maps: 20  patch: [64, 64, 64]
                     model  model_args  init: PATH|null  pool: 1 (2: the 2 mm patch mean-pooled to 4 mm)
                     ventricle_head: false (true: one more output channel, a ventricle logit; `ventricle_loss`)
                     (images synthesised from real label maps: the task's name asks for synthetic images)
radiome-mae-volumes  label_maps: 20  patch  model_args  synthetic: true (real MR crops alternating with
                     synthetic images; the test subjects are never among them)  pool: 1 (2: every image at 4 mm,
                     `patch` still counted on the 2 mm grid)
Each also takes `seed`; a key the task does not know is refused with the allowed ones. A sharded dataset
(`hfm radiome curate --shard-size`) is streamed through the trainer, one shard's cases at a time, each case giving
about samples_per_epoch / cases patches an epoch (`hfm.radiome.data.stream`).

Segmentation is 4 classes on the SynthSeg stream (background / CSF / GM / WM) and the dataset's labels otherwise;
the loss is cross-entropy + soft Dice over labelled voxels. With `ventricle_head` the SynthSeg network has a fifth
output channel, a ventricle logit trained by a positive-weighted binary cross-entropy (`ventricle_loss`) added to the
4-class loss, which sees channels 0-3 only (so their posteriors, the fusion's prior, stay unweighted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from hfm.radiome import baselines as _baselines  # noqa: F401  (registers the UNet baseline)
from hfm.radiome import models as _models  # noqa: F401  (registers the radiome models)
from hfm.radiome.data.patches import DEFAULT_CACHE_BYTES, PatchDataset, VolumeCache
from hfm.radiome.data.stream import radiome_stream
from hfm.shared.errors import HFMError
from hfm.shared.models.loading import load_encoder
from hfm.shared.models.registry import create_model
from hfm.shared.options import parse_options
from hfm.shared.shard_layout import is_sharded

IGNORE = -1
SYNTHSEG_CLASSES = 4
MAE_MODEL = "radiome-mae-tiny"
_CACHE_MB = DEFAULT_CACHE_BYTES // 2**20


@dataclass(frozen=True)
class MAEOptions:
    dataset: Path
    patch_size: list[int] = field(default_factory=lambda: [32, 32, 32])
    model: str = MAE_MODEL
    model_args: dict[str, Any] = field(default_factory=dict)
    samples_per_epoch: int = 64
    cache_mb: int = _CACHE_MB
    seed: int = 0
    split: str | None = None  # every image, labelled or not: self-supervised pretraining may use test images


@dataclass(frozen=True)
class SegmentOptions:
    dataset: Path
    patch_size: list[int] = field(default_factory=lambda: [32, 32, 32])
    model: str = "radiome-unetr-tiny"
    model_args: dict[str, Any] = field(default_factory=dict)
    samples_per_epoch: int = 64
    cache_mb: int = _CACHE_MB
    seed: int = 0
    split: str = "train"
    init: Path | None = None
    label_fraction: float = 1.0


@dataclass(frozen=True)
class SynthSegOptions:
    dataset: Path | None = None  # a folder of FreeSurfer label maps; None: SynthSeg's 20 of the reference data
    label_maps: int = 20
    seed: int = 0
    patch: list[int] = field(default_factory=lambda: [64, 64, 64])
    model: str = "radiome-unetr-tiny"
    model_args: dict[str, Any] = field(default_factory=dict)
    init: Path | None = None
    length: int = 10**6
    pool: int = 1
    ventricle_head: bool = False


@dataclass(frozen=True)
class MAEVolumesOptions:
    label_maps: int = 20
    seed: int = 0
    patch: list[int] = field(default_factory=lambda: [64, 64, 64])
    model_args: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = True
    pool: int = 1


def segmentation_loss(logits: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    """Cross-entropy plus soft Dice over labelled voxels (label -1 = unlabelled, ignored by both)."""
    ce = F.cross_entropy(logits, label, ignore_index=IGNORE)
    known = (label != IGNORE).unsqueeze(1).float()
    probs = logits.softmax(dim=1) * known
    onehot = F.one_hot(label.clamp(min=0), logits.shape[1]).permute(0, 4, 1, 2, 3).float() * known
    dims = (0, 2, 3, 4)
    dice = (2 * (probs * onehot).sum(dims) + 1e-5) / (probs.sum(dims) + onehot.sum(dims) + 1e-5)
    loss = ce + (1 - dice.mean())
    return loss, {"ce": float(ce.detach()), "soft_dice": float(dice.mean().detach())}


# Weight of the ventricle head's loss beside the 4-class loss: both are mean per-voxel log-losses of one scale, and
# neither is preferred (fixed before the twelfth pass's runs, docs/radiome-experiments.md; not tuned).
VENTRICLE_HEAD_WEIGHT = 1.0


def ventricle_loss(logit: torch.Tensor, label: torch.Tensor, pos_weight: float) -> torch.Tensor:
    """Binary cross-entropy of a ventricle logit (B, X, Y, Z) against label == CSF over labelled voxels.

    Ventricle voxels weigh `pos_weight`, the others 1; the mean is over those weights (as PyTorch's class-weighted
    cross-entropy), so the term keeps one scale whatever the crop holds.
    """
    from hfm.radiome.readers.subjects import CSF

    target = (label == CSF).float()
    weight = (label != IGNORE).float() * (1 + (pos_weight - 1) * target)
    per_voxel = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
    return (weight * per_voxel).sum() / weight.sum().clamp(min=1e-6)


def segmenter(name: str, args: dict[str, Any], init: Path | None) -> nn.Module:
    """A registered segmenter; with `init`, every encoder weight comes from that MAE (`load_encoder`)."""
    model = create_model(name, **args)
    if init is not None:
        if not hasattr(model, "encoder"):
            raise HFMError(f"task option init={init}: {name} has no encoder to start from a pretrained one")
        load_encoder(model, init, expected=MAE_MODEL)
    return model


def _mae_loss(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    output = model(batch["image"])
    return output.loss, {"masked_mse": float(output.loss.detach())}


class RadiomeMAETask:
    """Masked image modelling on random patches of every curated volume (labels unused)."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = parse_options(MAEOptions, options, "task radiome-mae")

    def build_model(self) -> nn.Module:
        return create_model(self.options.model, **self.options.model_args)

    def train_dataset(self) -> Dataset:
        o = self.options
        if is_sharded(o.dataset):  # streamed: one shard's cases at a time, patches drawn in the stream
            return radiome_stream(o.dataset, o.split, o.patch_size, o.samples_per_epoch)
        cache = VolumeCache(o.dataset, o.cache_mb * 2**20, split=o.split)
        return PatchDataset(cache, o.patch_size, o.samples_per_epoch, o.seed, with_label=False)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return _mae_loss(model, batch)


class RadiomeSegmentTask:
    """Segmentation fine-tuning (or training from scratch without `init`) on labelled patches."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = parse_options(SegmentOptions, options, "task radiome-segment")

    def build_model(self) -> nn.Module:
        return segmenter(self.options.model, self.options.model_args, self.options.init)

    def train_dataset(self) -> Dataset:
        o = self.options
        if is_sharded(o.dataset):
            return radiome_stream(o.dataset, o.split, o.patch_size, o.samples_per_epoch, o.label_fraction)
        cache = VolumeCache(o.dataset, o.cache_mb * 2**20, split=o.split)
        return PatchDataset(cache, o.patch_size, o.samples_per_epoch, o.seed, label_fraction=o.label_fraction)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return segmentation_loss(model(batch["image"]), batch["label"])


class SynthSegTask:
    """Segmentation on a fresh synthetic image every sample (`SynthSegDataset`, item i = f(seed, i))."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = parse_options(SynthSegOptions, options, "task radiome-synthseg")
        self.pos_weight: float | None = None  # the ventricle head's, from the maps in use (`train_dataset`)

    def build_model(self) -> nn.Module:
        o = self.options
        args = {"classes": SYNTHSEG_CLASSES, **o.model_args}
        args["classes"] += int(o.ventricle_head)  # the ventricle logit, after the tissue classes
        return segmenter(o.model, args, o.init)

    def train_dataset(self) -> Dataset:
        from hfm.radiome.synthetic.synthseg import SynthesisConfig, SynthSegDataset, label_map_paths

        o = self.options
        paths = label_map_paths(o.label_maps, o.dataset)
        config = SynthesisConfig(patch=tuple(o.patch), pool=o.pool)
        dataset = SynthSegDataset(o.label_maps, o.seed, o.length, config, paths)
        if o.ventricle_head:
            self.pos_weight = dataset.ventricle_pos_weight()
        return dataset

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        logits, label = model(batch["image"]), batch["label"]
        if not self.options.ventricle_head:
            return segmentation_loss(logits, label)
        if self.pos_weight is None:
            self.train_dataset()  # the positive weight comes from the maps in use
        loss, info = segmentation_loss(logits[:, :SYNTHSEG_CLASSES], label)
        head = ventricle_loss(logits[:, SYNTHSEG_CLASSES], label, float(self.pos_weight))
        return loss + VENTRICLE_HEAD_WEIGHT * head, info | {"ventricle_bce": float(head.detach())}


class MAEVolumesTask:
    """Masked autoencoding on crops of every real MR volume available, alternating with synthetic images."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = parse_options(MAEVolumesOptions, options, "task radiome-mae-volumes")

    def build_model(self) -> nn.Module:
        return create_model(MAE_MODEL, **self.options.model_args)

    def train_dataset(self) -> Dataset:
        from hfm.radiome.data.pretraining import PretrainVolumes, real_mr_volumes
        from hfm.radiome.synthetic.synthseg import SynthesisConfig, SynthSegDataset

        o = self.options
        config = SynthesisConfig(patch=tuple(o.patch), pool=o.pool)
        synthetic = SynthSegDataset(o.label_maps, o.seed + 10_000, config=config) if o.synthetic else None
        coarse = [p // o.pool for p in o.patch]
        return PretrainVolumes(real_mr_volumes(o.pool), synthetic, coarse, o.seed)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return _mae_loss(model, batch)


def mae_task(options: dict[str, Any]) -> RadiomeMAETask:
    return RadiomeMAETask(options)


def segment_task(options: dict[str, Any]) -> RadiomeSegmentTask:
    return RadiomeSegmentTask(options)


def synthseg_task(options: dict[str, Any]) -> SynthSegTask:
    return SynthSegTask(options)


def mae_volumes_task(options: dict[str, Any]) -> MAEVolumesTask:
    return MAEVolumesTask(options)


TASKS = {
    "radiome-mae": mae_task,
    "radiome-segment": segment_task,
    "radiome-synthseg": synthseg_task,
    "radiome-mae-volumes": mae_volumes_task,
}
