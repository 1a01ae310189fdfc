"""Loader throughput, measured the same way in every domain: items per second of hfm's reader against a peer's.

Both sides run the same passes over the same items, alternating (ours, theirs, ours, ...) so that a change in the
machine's load during the measurement falls on both; one untimed pass of each first warms file caches and lazy
imports. The figure's interval is the paired bootstrap over the repeats of the difference in items/s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import paired_bootstrap

# One pass over the data: returns how many items it produced.
Pass = Callable[[], int]


@dataclass(frozen=True)
class PairedRates:
    ours: np.ndarray  # items/s of each timed repeat
    theirs: np.ndarray | None  # None when no peer could be run
    items: int  # items per pass


def items_per_second(one_pass: Pass) -> tuple[float, int]:
    start = time.perf_counter()
    items = one_pass()
    elapsed = time.perf_counter() - start
    if items < 1:
        raise ValueError("a throughput pass produced no items")
    return items / max(elapsed, 1e-9), items


def paired_rates(ours: Pass, theirs: Pass | None = None, repeats: int = 5, warmup: bool = True) -> PairedRates:
    """Items/s of `ours` and `theirs` over `repeats` alternating timed passes (after one untimed pass each)."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if warmup:
        ours()
        if theirs is not None:
            theirs()
    our_rates, their_rates, items = [], [], 0
    for _ in range(repeats):
        rate, items = items_per_second(ours)
        our_rates.append(rate)
        if theirs is not None:
            rate, their_items = items_per_second(theirs)
            if their_items != items:
                raise ValueError(f"the peer's pass produced {their_items} items, ours {items}: not the same work")
            their_rates.append(rate)
    return PairedRates(np.array(our_rates), np.array(their_rates) if theirs is not None else None, items)


def throughput_figure(
    rates: PairedRates,
    *,
    name: str,
    task: str,
    item: str,
    baseline_name: str,
    command: str = "",
    goal: str = "",
    notes: str = "",
) -> Figure:
    """The loader figure: mean items/s of hfm against the peer, paired bootstrap interval over the repeats."""
    n = int(rates.ours.size)
    if rates.theirs is None:
        baseline, interval, method = float("nan"), (float("nan"), float("nan")), "no peer measured"
        ratio = f"{baseline_name} not available"
    else:
        baseline = float(rates.theirs.mean())
        _, low, high = paired_bootstrap(rates.ours, rates.theirs, n_resamples=2000)
        interval, method = (low, high), f"paired bootstrap over {n} alternating repeats"
        ratio = f"ratio {rates.ours.mean() / baseline:.2f}x"
    return Figure(
        name=name,
        task=task,
        metric=f"{item}/s",
        higher_is_better=True,
        value=float(rates.ours.mean()),
        baseline=baseline,
        baseline_name=baseline_name,
        n_test=n,
        test_unit="repeats",
        interval=interval,
        interval_method=method,
        unit=f"{item}/s",
        command=command,
        goal=goal,
        notes="; ".join(x for x in (ratio, f"{rates.items} {item} per pass", notes) if x),
    )
