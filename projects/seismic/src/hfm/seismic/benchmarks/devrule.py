"""Issue 14's dev rule for fine-tuning levers, and the choice of each output's state within one fine-tuning run.

The rule (docs/seismic-experiments.md, "the dev rule for S picks and detection", written before its runs): a
candidate replaces the present recipe only if no one of the dev metrics falls (the Student-t 95% interval of the
per-seed paired difference does not lie wholly below zero) and their sum rises (the interval of the paired
difference of the sums lies wholly above zero). Restricted to one output's metrics, the same test chooses that
output's state. The DFDP test set is never read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hfm.shared.errors import HFMError
from hfm.shared.eval.stats import mean_confidence_interval

OUTPUT_METRICS: dict[str, tuple[str, ...]] = {
    "P": ("dev P F1", "dev P hit 0.2 s"),
    "S": ("dev S F1", "dev S hit 0.2 s"),
    "detection": ("dev detection ROC-AUC",),
}
METRICS: tuple[str, ...] = tuple(m for group in OUTPUT_METRICS.values() for m in group)


def _paired(present: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]], metric: str) -> np.ndarray:
    before = {row["seed"]: row[metric] for row in present}
    after = {row["seed"]: row[metric] for row in candidate}
    seeds = sorted(set(before) & set(after))
    if len(seeds) < 2:
        raise HFMError(f"dev rule: {metric} needs at least two seeds run for both, got {seeds}")
    return np.array([after[s] - before[s] for s in seeds], dtype=float)


def verdict(
    present: Sequence[Mapping[str, Any]],
    candidate: Sequence[Mapping[str, Any]],
    metrics: Sequence[str] = METRICS,
) -> dict[str, Any]:
    """Per metric and for the sum: (mean paired difference, low, high) over the seeds both ran; `accepted`: the
    rule's answer; `fell`: the metrics whose interval lies wholly below zero."""
    differences = {m: _paired(present, candidate, m) for m in metrics}
    out: dict[str, Any] = {m: mean_confidence_interval(d) for m, d in differences.items()}
    out["sum"] = mean_confidence_interval(np.sum(list(differences.values()), axis=0))
    out["fell"] = [m for m in metrics if out[m][2] < 0]
    out["accepted"] = not out["fell"] and out["sum"][1] > 0
    return out


def accepts(
    present: Sequence[Mapping[str, Any]],
    candidate: Sequence[Mapping[str, Any]],
    metrics: Sequence[str] = METRICS,
) -> bool:
    """The rule: no metric falls (interval wholly below zero) and the sum rises (interval wholly above zero)."""
    return bool(verdict(present, candidate, metrics)["accepted"])


def choose_output_steps(rows_by_step: Mapping[int, Sequence[Mapping[str, Any]]]) -> dict[str, int]:
    """Per output, the step of one run whose state it takes: the earliest step unless a later one passes the rule
    on that output's metrics against the step chosen so far (steps tried in increasing order)."""
    steps = sorted(rows_by_step)
    chosen = {}
    for output, metrics in OUTPUT_METRICS.items():
        best = steps[0]
        for step in steps[1:]:
            if accepts(rows_by_step[best], rows_by_step[step], metrics):
                best = step
        chosen[output] = best
    return chosen
