"""Label efficiency: a protocol's score as a function of the fraction of training labels, over several seeds.

For each fraction and seed a subset of the training labels is drawn (stratified: at least one sample of every class
before the rest is drawn at random), the protocol is fitted on it and scored on the whole test set. Each point gives
the mean over seeds (5 by default) and its Student-t 95% confidence interval.

Pretrained against scratch: run both curves with the same fractions and seeds (a seed draws the same label subset
for both), then `compare_curves(pretrained, scratch)` gives per fraction the paired differences pretrained - scratch
per seed, their mean and the Student-t interval of that mean (the paired t interval): the seed-to-seed spread of
the subsets cancels in each difference, so the paired interval is narrower than two separate ones would suggest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from hfm.shared.errors import HFMError
from hfm.shared.eval.probes import ProbeResult, linear_probe
from hfm.shared.eval.stats import mean_confidence_interval

DEFAULT_FRACTIONS = (0.01, 0.05, 0.1, 0.5, 1.0)
DEFAULT_SEEDS = (0, 1, 2, 3, 4)

Protocol = Callable[..., ProbeResult]  # (train_x, train_y, test_x, test_y, task=..., seed=...) -> ProbeResult


@dataclass
class EfficiencyPoint:
    fraction: float
    labels: int  # training labels used
    values: list[float]  # one per seed
    mean: float
    low: float
    high: float
    seeds: list[int] = field(default_factory=list)  # the seed of each value


@dataclass
class PairedPoint:
    """pretrained - scratch at one label fraction: per-seed differences, their mean and paired t interval."""

    fraction: float
    labels: int
    differences: list[float]
    mean: float
    low: float
    high: float
    method: str = "paired t over seeds"


@dataclass
class EfficiencyCurve:
    name: str  # what was probed, e.g. "pretrained encoder"
    protocol: str
    metric: str
    baseline: float  # the metric without the input, on the same test set
    points: list[EfficiencyPoint] = field(default_factory=list)
    confidence: float = 0.95

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def subsample(labels: np.ndarray, fraction: float, seed: int, classification: bool) -> np.ndarray:
    """Sorted indices of round-up(fraction * N) training samples, at least one per class when classifying."""
    if not 0 < fraction <= 1:
        raise HFMError(f"label fraction must lie in (0, 1], got {fraction}")
    n = len(labels)
    rng = np.random.default_rng(seed)
    if not classification:
        return np.sort(rng.permutation(n)[: max(2, math.ceil(fraction * n))])
    classes = np.unique(labels)
    count = min(n, max(len(classes), math.ceil(fraction * n)))
    first = np.array([rng.choice(np.flatnonzero(labels == c)) for c in classes])
    rest = rng.permutation(np.setdiff1d(np.arange(n), first))[: count - len(first)]
    return np.sort(np.concatenate([first, rest]))


def label_efficiency(
    train_x: Any,
    train_y: np.ndarray,
    test_x: Any,
    test_y: np.ndarray,
    task: str = "classification",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    protocol: Protocol = linear_probe,
    name: str = "embeddings",
    confidence: float = 0.95,
    **protocol_kwargs: Any,
) -> EfficiencyCurve:
    """Runs `protocol` for every fraction and seed. `train_x` may be embeddings (probes) or data (`finetune`, with
    the encoder bound via functools.partial)."""
    if len(seeds) < 3:
        raise HFMError(f"label efficiency needs at least 3 seeds for a confidence interval, got {len(seeds)}")
    train_y = np.asarray(train_y)
    curve: EfficiencyCurve | None = None
    for fraction in sorted(fractions):
        results = []
        for seed in seeds:
            index = subsample(train_y, fraction, seed, task == "classification")
            results.append(
                protocol(train_x[index], train_y[index], test_x, test_y, task=task, seed=seed, **protocol_kwargs)
            )
        if curve is None:
            first = results[0]
            curve = EfficiencyCurve(name, first.protocol, first.metric, first.baseline, confidence=confidence)
        values = [r.value for r in results]
        mean, low, high = mean_confidence_interval(values, confidence)
        curve.points.append(
            EfficiencyPoint(float(fraction), results[0].n_train, values, mean, low, high, [int(s) for s in seeds])
        )
    if curve is None:
        raise HFMError("label efficiency needs at least one fraction")
    return curve


def compare_curves(
    pretrained: EfficiencyCurve, scratch: EfficiencyCurve, confidence: float = 0.95
) -> list[PairedPoint]:
    """Per fraction, pretrained - scratch paired by seed (the same label subset), with its Student-t interval."""
    if pretrained.metric != scratch.metric:
        raise HFMError(f"cannot pair curves of {pretrained.metric!r} and {scratch.metric!r}")
    theirs = {point.fraction: point for point in scratch.points}
    paired = []
    for point in pretrained.points:
        other = theirs.get(point.fraction)
        if other is None:
            raise HFMError(f"fraction {point.fraction} is in {pretrained.name!r} but not in {scratch.name!r}")
        if len(point.values) != len(other.values) or (point.seeds and other.seeds and point.seeds != other.seeds):
            raise HFMError(f"fraction {point.fraction}: the curves ran with different seeds; pairing needs the same")
        differences = [a - b for a, b in zip(point.values, other.values, strict=True)]
        mean, low, high = mean_confidence_interval(differences, confidence)
        paired.append(PairedPoint(point.fraction, point.labels, differences, mean, low, high))
    return paired


def paired_label_efficiency(
    train: tuple[Any, Any],
    train_y: np.ndarray,
    test: tuple[Any, Any],
    test_y: np.ndarray,
    protocols: tuple[Protocol, Protocol],
    task: str = "classification",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    names: tuple[str, str] = ("pretrained", "scratch"),
    confidence: float = 0.95,
) -> tuple[EfficiencyCurve, EfficiencyCurve, list[PairedPoint]]:
    """Both curves on the same label subsets, and per fraction the paired interval of the first minus the second.

    `train`, `test` and `protocols` are pairs (pretrained, scratch): embeddings of each encoder for probes, or the
    same data twice with each encoder bound into its protocol for fine-tuning.
    """
    curves = [
        label_efficiency(train[i], train_y, test[i], test_y, task, fractions, seeds, protocols[i], names[i], confidence)
        for i in range(2)
    ]
    return curves[0], curves[1], compare_curves(curves[0], curves[1], confidence)
