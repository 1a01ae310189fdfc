"""Train tasks for the shared trainer (`hfm train`, entry-point group `hfm.tasks`) and a helper that runs them.

task:
  name: radiome-mae            # or radiome-segment
  dataset: curated/Dataset001  # a curated nnU-Net raw folder (hfm radiome curate)
  patch_size: [32, 32, 32]     # from plan.json
  model_args: {width: 96, depth: 4}
  pretrained: runs/mae/export  # radiome-segment only: an artifact folder whose encoder initialises the model
  label_fraction: 1.0          # radiome-segment only: fraction of labelled slices (label-efficiency)
  cache_mb: 512
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
from hfm.radiome.data import DEFAULT_CACHE_BYTES, PatchDataset, VolumeCache
from hfm.shared.artifacts import LoadReport, load_pretrained
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model
from hfm.shared.train.config import Config
from hfm.shared.train.trainer import Trainer

IGNORE = -1


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


@dataclass
class RadiomeTaskOptions:
    dataset: str
    patch_size: list[int] = field(default_factory=lambda: [32, 32, 32])
    model: str = ""
    model_args: dict[str, Any] = field(default_factory=dict)
    samples_per_epoch: int = 64
    cache_mb: int = DEFAULT_CACHE_BYTES // 2**20
    pretrained: str | None = None
    label_fraction: float = 1.0
    seed: int = 0
    split: str | None = "train"  # radiome-mae defaults to None: every image, labelled or not

    @classmethod
    def parse(cls, options: dict[str, Any], task: str) -> RadiomeTaskOptions:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known - {"name"})
        if unknown:
            raise HFMError(f"task {task}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if "dataset" not in options:
            raise HFMError(f"task {task}: option `dataset` (a curated nnU-Net folder) is required")
        return cls(**{k: v for k, v in options.items() if k in known})


class RadiomeMAETask:
    """Masked image modelling on random patches of every curated volume (labels unused)."""

    default_model = "radiome-mae-tiny"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = RadiomeTaskOptions.parse({"split": None, **options}, "radiome-mae")

    def build_model(self) -> nn.Module:
        return create_model(self.options.model or self.default_model, **self.options.model_args)

    def train_dataset(self) -> Dataset:
        o = self.options
        cache = VolumeCache(o.dataset, o.cache_mb * 2**20, split=o.split)
        return PatchDataset(cache, o.patch_size, o.samples_per_epoch, o.seed, with_label=False)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        output = model(batch["image"])
        return output.loss, {"masked_mse": float(output.loss.detach())}


class RadiomeSegmentTask:
    """Segmentation fine-tuning (or training from scratch without `pretrained`) on labelled patches."""

    default_model = "radiome-unetr-tiny"

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = RadiomeTaskOptions.parse(options, "radiome-segment")
        self.load_report: LoadReport | None = None

    def build_model(self) -> nn.Module:
        o = self.options
        model = create_model(o.model or self.default_model, **o.model_args)
        if o.pretrained:
            _, self.load_report = load_pretrained(o.pretrained, model)
            if not any(k.startswith("encoder.") for k in self.load_report.matched):
                raise HFMError(f"{o.pretrained}: no encoder weights matched the model ({self.load_report.summary()})")
        return model

    def train_dataset(self) -> Dataset:
        o = self.options
        cache = VolumeCache(o.dataset, o.cache_mb * 2**20)
        return PatchDataset(cache, o.patch_size, o.samples_per_epoch, o.seed, label_fraction=o.label_fraction)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return segmentation_loss(model(batch["image"]), batch["label"])


def mae_task(options: dict[str, Any]) -> RadiomeMAETask:
    return RadiomeMAETask(options)


def segment_task(options: dict[str, Any]) -> RadiomeSegmentTask:
    return RadiomeSegmentTask(options)


def train(
    task_name: str,
    options: dict[str, Any],
    out_dir: str | Path,
    steps: int,
    batch_size: int = 2,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> tuple[nn.Module, dict[str, Any]]:
    """Run a radiome task through the shared trainer; returns the trained model and the run summary."""
    task = {"radiome-mae": mae_task, "radiome-segment": segment_task}[task_name](dict(options))
    model, result = run_task(task, task_name, options, out_dir, steps, batch_size, lr, seed, progress)
    summary = {"steps": result.step, "wall_s": result.wall_s, "samples_per_s": result.samples_per_s}
    if isinstance(task, RadiomeSegmentTask) and task.load_report is not None:
        summary["pretrained_load"] = task.load_report.summary()
    return model, summary


def run_task(
    task: Any,
    task_name: str,
    options: dict[str, Any],
    out_dir: str | Path,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool,
) -> tuple[nn.Module, Any]:
    """One short run of a built radiome task with the domain's optimiser settings: the model, the trainer's result."""
    config = Config.short_run(
        out_dir,
        task_name,
        dict(options),
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        weight_decay=0.01,
        min_lr=lr * 0.05,
        logs=5,
    )
    trainer = Trainer(config, task)
    result = trainer.fit()
    return trainer.raw_model, result
