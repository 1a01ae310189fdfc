"""Blocked cross-validation for autocorrelated fields: test blocks rolling through the record, gaps around them.

Fold k tests on one contiguous block of `test_steps`; `gap_steps` either side of it belong to no period (they
break the autocorrelation between training and test: 12 months for monthly SST, 1 day for hourly temperature);
the `valid_steps` just before the lower gap (after the upper gap for the first block) are the validation block on
which checkpoints, truncations and ridge penalties are chosen; everything else is training. Climatology,
normalisation, damping and every baseline are fitted on the training steps of the fold only. With a record too
short for training only on the past (31 years for 10 blocks of 3), training uses both sides of the test block
(blocked cross-validation with buffers, Bergmeir & Benitez 2012; Roberts et al. 2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hfm.shared.errors import HFMError


@dataclass(frozen=True)
class Fold:
    index: int
    train: np.ndarray  # bool (T,)
    valid: np.ndarray  # bool (T,)
    test: np.ndarray  # bool (T,)

    def describe(self, times: np.ndarray) -> dict[str, str | int]:
        """Periods as first/last valid times (for the model card and the docs)."""

        def span(mask: np.ndarray) -> str:
            idx = np.flatnonzero(mask)
            return f"{times[idx[0]]} .. {times[idx[-1]]}" if idx.size else "-"

        return {
            "fold": self.index,
            "test": span(self.test),
            "valid": span(self.valid),
            "train_steps": int(self.train.sum()),
            "valid_steps": int(self.valid.sum()),
            "test_steps": int(self.test.sum()),
        }


def blocked_folds(steps: int, folds: int, test_steps: int, gap_steps: int, valid_steps: int) -> list[Fold]:
    """`folds` test blocks of `test_steps`, evenly spaced over `steps` (never overlapping), with gaps and a
    validation block as described in the module docstring."""
    if folds < 1 or folds * test_steps > steps:
        raise HFMError(f"folds: {folds} blocks of {test_steps} steps do not fit in {steps} steps")
    starts = np.round(np.linspace(0, steps - test_steps, folds)).astype(int)
    result = []
    for k, start in enumerate(starts):
        stop = start + test_steps
        test = np.zeros(steps, bool)
        test[start:stop] = True
        blocked = np.zeros(steps, bool)
        blocked[max(0, start - gap_steps) : min(steps, stop + gap_steps)] = True
        valid = np.zeros(steps, bool)
        lower = start - gap_steps
        if lower >= valid_steps + gap_steps:  # room before the block: validate on the steps just before its gap
            valid[lower - valid_steps : lower] = True
        else:
            upper = stop + gap_steps
            valid[upper : upper + valid_steps] = True
        train = ~blocked & ~valid
        if train.sum() < valid_steps:
            raise HFMError(f"fold {k}: only {int(train.sum())} training steps left")
        result.append(Fold(k, train, valid, test))
    return result


def mask_to_ranges(mask: np.ndarray) -> list[list[int]]:
    """[[start, stop), ...] of the True runs: a fold's period in a task config (JSON/YAML friendly)."""
    padded = np.concatenate([[False], np.asarray(mask, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2], strict=True)]


def ranges_to_mask(ranges: list[list[int]], steps: int) -> np.ndarray:
    mask = np.zeros(steps, bool)
    for start, stop in ranges:
        if not 0 <= start < stop <= steps:
            raise HFMError(f"task.train_ranges: range [{start}, {stop}) outside 0..{steps}")
        mask[start:stop] = True
    return mask
