"""Model selection: score the model on held-back data every K steps, keep the best step, stop when it stops improving.

Where the validation data come from, first that applies:

1. the task's own split: an optional `validation_dataset()` method returning a `Dataset` (or None);
2. `validation.holdout: f`: a fraction `f` of the training set, taken out of training: a seeded random draw, or with
   `validation.holdout_from: end` the last items in the dataset's order (a later time block for time series);
3. neither: a run with `validation.every > 0` is refused before it starts.

What is scored: the task's optional `evaluate(model, batches) -> {metric: value}` (for metrics that are not means
over batches: ROC-AUC, skill against persistence); otherwise the sample-weighted mean of `loss()` and of every
metric `loss()` logs, over the whole validation set, in eval mode and without gradients.

Validation runs on the main process only, on the unwrapped model, inside its own random stream (seeded from the run
seed, restored afterwards): a validation neither shifts the training's random numbers nor depends on when it ran, so
a run resumed from any checkpoint validates to the same numbers. Its state (best score and step, validations
without improvement, the history) lives in every checkpoint and is restored exactly on resume.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from accelerate.utils import send_to_device
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, Subset

from hfm.shared.errors import HFMError
from hfm.shared.train.config import ValidationConfig
from hfm.shared.train.rng import capture_rng, restore_rng, seed_everything

# Added to the run seed for the validation's own random stream (masking in an MAE's validation loss, for example).
_VALIDATION_SEED_OFFSET = 7_777_777


@dataclass
class ValidationState:
    """Everything model selection knows; saved in each checkpoint's state.json."""

    best_score: float | None = None
    best_step: int | None = None
    bad_validations: int = 0  # validations in a row without improvement (the patience counter)
    stopped_early: bool = False
    history: list[dict[str, float]] = field(default_factory=list)  # {"step": S, metric: value, ...} per validation

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationState:
        return cls(
            best_score=data.get("best_score"),
            best_step=data.get("best_step"),
            bad_validations=int(data.get("bad_validations", 0)),
            stopped_early=bool(data.get("stopped_early", False)),
            history=[dict(entry) for entry in data.get("history", [])],
        )

    def record(self, step: int, metrics: dict[str, float], config: ValidationConfig) -> bool:
        """Add one validation; True when it is the new best. Raises when the configured metric is missing."""
        if config.metric not in metrics:
            raise HFMError(
                f"validation.metric: {config.metric!r} is not among the task's validation metrics "
                f"({', '.join(sorted(metrics)) or 'none'})"
            )
        score = float(metrics[config.metric])
        self.history.append({"step": step, **{k: float(v) for k, v in sorted(metrics.items())}})
        if is_better(score, self.best_score, config.mode, config.min_delta):
            self.best_score, self.best_step, self.bad_validations = score, step, 0
            return True
        self.bad_validations += 1
        if config.patience is not None and self.bad_validations >= config.patience:
            self.stopped_early = True
        return False


def is_better(score: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """Whether `score` beats `best` by more than `min_delta` in direction `mode`; NaN never does."""
    if math.isnan(score):
        return False
    if best is None:
        return True
    return score < best - min_delta if mode == "min" else score > best + min_delta


def split_datasets(task: Any, train: Dataset, config: ValidationConfig, seed: int) -> tuple[Dataset, Dataset | None]:
    """(training set, validation set or None) for a run, by the rules in the module docstring."""
    if config.every == 0:  # selection off: the task's split is not even built
        return train, None
    offered = task.validation_dataset() if hasattr(task, "validation_dataset") else None
    if offered is not None:
        if len(offered) == 0:
            raise HFMError(f"task {type(task).__name__}: its validation split is empty")
        return train, offered
    if config.holdout > 0:
        if isinstance(train, IterableDataset):
            raise HFMError(
                f"validation.holdout: the training data of task {type(task).__name__} is a stream of shards, which "
                "has no items to hold out; give the task a validation split (its validation_dataset())"
            )
        n = len(train)
        held = max(1, round(config.holdout * n))
        if held >= n:
            raise HFMError(f"validation.holdout: {config.holdout} of {n} samples leaves nothing to train on")
        if config.holdout_from == "end":
            return Subset(train, list(range(n - held))), Subset(train, list(range(n - held, n)))
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + 17)).tolist()
        return Subset(train, sorted(order[held:])), Subset(train, sorted(order[:held]))
    raise HFMError(
        f"validation.every is {config.every} but task {type(task).__name__} offers no validation split "
        "(no validation_dataset()); set validation.holdout to hold out part of the training set"
    )


def _batch_size_of(batch: Any) -> int:
    """Samples in a batch: the first dimension of its first tensor (batches may be tensors, tuples or dicts)."""
    return _first_dim(batch) or 1


def _first_dim(batch: Any) -> int:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else 0
    items = batch.values() if isinstance(batch, dict) else batch if isinstance(batch, list | tuple) else ()
    for item in items:
        size = _first_dim(item)
        if size:
            return size
    return 0


def mean_loss_metrics(task: Any, model: nn.Module, batches: Iterable[Any]) -> dict[str, float]:
    """Sample-weighted means of the task's loss ("loss") and of the metrics its loss() logs."""
    totals: dict[str, float] = {}
    count = 0
    for batch in batches:
        loss, logs = task.loss(model, batch)
        size = _batch_size_of(batch)
        count += size
        for key, value in {"loss": float(loss), **{k: float(v) for k, v in logs.items()}}.items():
            totals[key] = totals.get(key, 0.0) + value * size
    if count == 0:
        raise HFMError("validation: the validation set gave no batch")
    return {key: total / count for key, total in totals.items()}


@torch.no_grad()
def validate(
    task: Any,
    model: nn.Module,
    dataset: Dataset,
    batch_size: int,
    device: torch.device,
    seed: int,
    num_workers: int = 0,
) -> dict[str, float]:
    """The task's validation metrics for `model` on `dataset`, without touching the training's random streams."""
    saved_rng = capture_rng()
    was_training = model.training
    seed_everything(seed + _VALIDATION_SEED_OFFSET)
    model.eval()
    try:
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            num_workers=num_workers,
            collate_fn=getattr(task, "collate", None),
            generator=torch.Generator().manual_seed(seed + _VALIDATION_SEED_OFFSET),  # worker seeds: the same each time
        )
        batches: Iterator[Any] = (send_to_device(batch, device) for batch in loader)
        if hasattr(task, "evaluate"):
            metrics = task.evaluate(model, batches)
        else:
            metrics = mean_loss_metrics(task, model, batches)
    finally:
        model.train(was_training)
        restore_rng(saved_rng)
    if not isinstance(metrics, dict):
        raise HFMError(f"validation: {type(task).__name__}.evaluate returned {type(metrics).__name__}, not a dict")
    out = {}
    for key, value in metrics.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise HFMError(f"validation: metric {key!r} is not a number ({type(value).__name__})") from None
    return out
