"""One benchmark figure: hfm against its strongest baseline on the same test units, with a paired interval.

A figure is a win, a tie or a loss by the paired 95% interval of the difference hfm - baseline, never by its point
values: a win when the whole interval lies on the better side of zero (which side depends on `higher_is_better`), a
loss when it lies on the worse side, a tie otherwise. A figure whose reference is not a measurement (theoretical
onsets, another algorithm's segmentation) is a consistency check and is never counted as a win or a loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Outcome = Literal["win", "tie", "loss", "consistency check", "no interval"]
OUTCOMES: tuple[Outcome, ...] = ("win", "tie", "loss", "consistency check", "no interval")
REFERENCES = ("measurement", "consistency check")


@dataclass(frozen=True)
class Figure:
    """hfm's value and its strongest baseline's on the same `n_test` test units, with the interval of the difference.

    `interval` is the paired 95% interval of `value - baseline` (NaNs when it could not be computed) and
    `interval_method` says how it was made (e.g. "paired bootstrap over events, 2000 resamples"). `n_effective` is
    the effective number of independent units for autocorrelated tests (forecasts), else None. `others` holds the
    remaining baselines' values by name, measured in the same run.
    """

    name: str
    task: str  # headline grouping, "<domain>/<task>", e.g. "seismic/P picking"
    metric: str  # "F1", "RMSE", "Dice", ...
    higher_is_better: bool
    value: float
    baseline: float
    baseline_name: str
    n_test: int
    test_unit: str  # "events", "subjects", "images", "forecasts"
    interval: tuple[float, float]
    interval_method: str
    unit: str = ""
    command: str = ""
    reference: str = "measurement"
    n_effective: float | None = None
    headline: bool = False
    others: dict[str, float] = field(default_factory=dict)
    goal: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        if self.reference not in REFERENCES:
            raise ValueError(f"figure {self.name!r}: reference must be one of {REFERENCES}, not {self.reference!r}")
        if self.n_test < 1:
            raise ValueError(f"figure {self.name!r}: n_test must be at least 1, got {self.n_test}")
        if self.higher_is_better not in (True, False):
            raise ValueError(f"figure {self.name!r}: higher_is_better must be a bool, not {self.higher_is_better}")
        object.__setattr__(self, "higher_is_better", bool(self.higher_is_better))  # numpy bools in JSON fail
        if len(self.interval) != 2:
            raise ValueError(f"figure {self.name!r}: interval must be (low, high), got {self.interval!r}")
        low, high = (float("nan") if x is None else float(x) for x in self.interval)
        object.__setattr__(self, "interval", (low, high))  # JSON null -> NaN, numpy floats -> float
        if not (math.isnan(low) or math.isnan(high)) and low > high:
            raise ValueError(f"figure {self.name!r}: interval ({low}, {high}) is reversed")
        if self.n_effective is not None and not self.n_effective > 0:
            raise ValueError(f"figure {self.name!r}: n_effective must be positive, got {self.n_effective}")

    @property
    def domain(self) -> str:
        """The part of `task` before its "/" (the whole task where it has none)."""
        return self.task.split("/", 1)[0]

    @property
    def arrow(self) -> str:
        """The better direction: "↑" when higher is better, "↓" when lower is."""
        return "↑" if self.higher_is_better else "↓"

    @property
    def difference(self) -> float:
        return float(self.value) - float(self.baseline)

    @property
    def outcome(self) -> Outcome:
        return outcome(self.interval, self.higher_is_better, self.reference)

    def stronger_others(self) -> list[str]:
        """Names in `others` whose value beats `baseline` in the figure's direction: then the figure does not compare
        hfm with its strongest baseline, and the harness says so."""
        better = (lambda v: v > self.baseline) if self.higher_is_better else (lambda v: v < self.baseline)
        return [name for name, v in self.others.items() if v is not None and math.isfinite(v) and better(v)]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the fields plus `difference`, `outcome` and the legacy `ratio` (value / baseline or None)."""
        data = asdict(self)
        # JSON has no NaN: an undefined number (a baseline that could not be scored) is written as null
        for key in ("value", "baseline", "n_effective"):
            data[key] = None if data[key] is None else _json_number(data[key])
        data["others"] = {name: _json_number(v) for name, v in self.others.items()}
        data["interval"] = [_json_number(x) for x in self.interval]
        data["difference"] = _json_number(self.difference)
        data["outcome"] = self.outcome
        data["ratio"] = ratio(self.value, self.baseline)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Figure:
        """The inverse of `as_dict`: derived keys (difference, outcome, ratio) and unknown ones (the harness's
        benchmark, commit, machine stamps) are ignored."""
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in data.items() if k in names}
        if known.get("interval") is not None:
            known["interval"] = tuple(known["interval"])
        known["others"] = {k: _nan_for_none(v) for k, v in (known.get("others") or {}).items()}
        for key in ("value", "baseline"):
            if key in known:
                known[key] = _nan_for_none(known[key])
        return cls(**known)


def outcome(interval: tuple[float, float], higher_is_better: bool, reference: str = "measurement") -> Outcome:
    """win / tie / loss from the interval of hfm - baseline; consistency checks and missing intervals never count."""
    if reference != "measurement":
        return "consistency check"
    low, high = interval
    if math.isnan(low) or math.isnan(high):
        return "no interval"
    better_low, better_high = (low, high) if higher_is_better else (-high, -low)
    if better_low > 0:
        return "win"
    if better_high < 0:
        return "loss"
    return "tie"


def ratio(value: float, baseline: float) -> float | None:
    """value / baseline, or None where it has no meaning (a zero or non-finite baseline): never inf or NaN."""
    if baseline == 0 or not math.isfinite(baseline) or not math.isfinite(value):
        return None
    return float(value) / float(baseline)


def _json_number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _nan_for_none(x: float | None) -> float:
    return math.nan if x is None else float(x)
