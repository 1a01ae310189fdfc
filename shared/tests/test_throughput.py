"""The shared throughput helper: alternating timed passes, same work on both sides, a directional figure."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hfm.shared.eval.throughput import PairedRates, paired_rates, throughput_figure


def _pass(items: int, seconds: float, calls: list[str], name: str):
    def run() -> int:
        calls.append(name)
        time.sleep(seconds)
        return items

    return run


def test_passes_alternate_after_one_warmup_each():
    calls: list[str] = []
    rates = paired_rates(_pass(10, 0.0, calls, "a"), _pass(10, 0.0, calls, "b"), repeats=3)
    assert calls == ["a", "b", "a", "b", "a", "b", "a", "b"]
    assert rates.ours.shape == rates.theirs.shape == (3,) and rates.items == 10


def test_the_faster_loader_wins_by_its_interval():
    calls: list[str] = []
    rates = paired_rates(_pass(50, 0.01, calls, "fast"), _pass(50, 0.05, calls, "slow"), repeats=4)
    assert 2.5 < rates.ours.mean() / rates.theirs.mean() < 6  # 5x by construction; sleep granularity blurs it
    figure = throughput_figure(rates, name="toy", task="toy/loader", item="windows", baseline_name="slow loader")
    assert figure.outcome == "win" and figure.unit == "windows/s" and figure.n_test == 4
    assert "50 windows per pass" in figure.notes


def test_different_work_or_no_items_is_refused():
    calls: list[str] = []
    with pytest.raises(ValueError, match="produced 9 items, ours 10"):
        paired_rates(_pass(10, 0, calls, "a"), _pass(9, 0, calls, "b"), repeats=1, warmup=False)
    with pytest.raises(ValueError, match="no items"):
        paired_rates(_pass(0, 0, calls, "a"), repeats=1, warmup=False)


def test_without_a_peer_the_figure_has_no_interval():
    figure = throughput_figure(
        PairedRates(np.array([100.0, 110.0]), None, 5), name="t", task="t/l", item="images", baseline_name="peer"
    )
    assert figure.outcome == "no interval" and figure.value == pytest.approx(105.0)
