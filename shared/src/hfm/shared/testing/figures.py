"""A sample benchmark figure for the tests of whatever handles figures (reports, the bench harness, a domain's
`benchmark` command), so that each test spells only what it is about."""

from __future__ import annotations

from typing import Any

from hfm.shared.eval.figures import Figure


def example_figure(**changes: Any) -> Figure:
    """A complete figure that is a win: hfm's RMSE 0.40 against damped persistence's 0.45 on 168 forecasts, the
    paired interval of the difference (-0.08, -0.02) below zero; `changes` replace any field."""
    fields: dict[str, Any] = {
        "name": "f",
        "task": "climate/forecast 6 h",
        "metric": "RMSE",
        "higher_is_better": False,
        "value": 0.40,
        "baseline": 0.45,
        "baseline_name": "damped persistence",
        "n_test": 168,
        "test_unit": "forecasts",
        "interval": (-0.08, -0.02),
        "interval_method": "moving-block bootstrap, blocks of 12 h",
    }
    return Figure(**(fields | changes))
