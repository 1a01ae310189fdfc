"""Issue 14's dev rule for fine-tuning levers, and pickers whose outputs stop at their own step.

The rule (docs/seismic.md, "the dev rule for S picks and detection", written before its runs): a candidate replaces
the present recipe only if no one of the dev metrics falls (the Student-t 95% interval of the per-seed paired
difference does not lie wholly below zero) and their sum rises (the interval of the paired difference of the sums
lies wholly above zero). Restricted to one output's metrics, the same test chooses that output's state.
The DFDP test set is never read here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from hfm.shared.errors import HFMError
from hfm.shared.eval.stats import mean_confidence_interval

OUTPUT_METRICS: dict[str, tuple[str, ...]] = {
    "P": ("dev P F1", "dev P hit 0.2 s"),
    "S": ("dev S F1", "dev S hit 0.2 s"),
    "detection": ("dev detection ROC-AUC",),
}
METRICS: tuple[str, ...] = tuple(m for group in OUTPUT_METRICS.values() for m in group)
CHANNEL = {"P": 0, "S": 1, "detection": 2}  # detection is scored on the noise probability


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


class PerOutputPicker(nn.Module):
    """One fine-tuning run's states assembled per output: P, S and noise (detection) probabilities each from the
    state its output chose. Only `phase_probabilities` is defined: the three do not sum to one across states, and every
    consumer reads one channel at a time (P picks P, S picks S, detection the noise channel)."""

    def __init__(self, states: Mapping[int, nn.Module], output_steps: Mapping[str, int]) -> None:
        super().__init__()
        missing = [o for o in CHANNEL if output_steps.get(o) not in states]
        if missing:
            raise HFMError(f"per-output picker: no state for {missing} (states {sorted(states)}, {dict(output_steps)})")
        self.output_steps = dict(output_steps)
        self.states = nn.ModuleDict({str(step): states[step] for step in sorted(set(self.output_steps.values()))})

    @torch.no_grad()
    def phase_probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T) -> (B, 3, T): P, S, noise, each channel from its output's state."""
        probs = {key: model(x).narrow(1, 0, 3).softmax(dim=1) for key, model in self.states.items()}
        channels = [probs[str(self.output_steps[o])][:, c] for o, c in CHANNEL.items()]
        return torch.stack(channels, dim=1)
