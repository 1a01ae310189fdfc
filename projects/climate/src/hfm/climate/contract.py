"""The contract of one curated input file (`field_contract`) and the checks only gridded time series need.

The core's `SampleContract` checks dtype, shape and NaN fraction; here we check what it cannot see: times that run
backwards or repeat, a step that changes (irregular sampling), missing steps, and a grid that differs from the
first file's. Each finding is a `Violation` naming the field, so curation can quarantine the file with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from hfm.shared.contracts import ArraySpec, SampleContract, Violation

TIME_UNITS = "hours since 1970-01-01 00:00:00"

# Grid coordinates closer than this (degrees) are the same grid point.
GRID_TOLERANCE = 1e-4


@dataclass(frozen=True)
class TimeAxis:
    """Times as numbers in a CF unit and calendar, so every calendar (360-day included) compares the same way."""

    values: np.ndarray  # float64, in `units`
    units: str
    calendar: str


def encode_times(times: xr.DataArray | np.ndarray, units: str = TIME_UNITS) -> TimeAxis:
    """Encode decoded times (numpy datetime64 or cftime) as CF numbers in their own calendar."""
    import cftime

    values = np.asarray(times.values if isinstance(times, xr.DataArray) else times)
    if np.issubdtype(values.dtype, np.datetime64):
        hours = (values - np.datetime64("1970-01-01T00:00:00")) / np.timedelta64(1, "h")
        return TimeAxis(np.asarray(hours, dtype="float64"), units, "proleptic_gregorian")
    calendar = values.flat[0].calendar if values.size else "standard"
    return TimeAxis(np.asarray(cftime.date2num(values, units, calendar=calendar), dtype="float64"), units, calendar)


def regular_step(hours: np.ndarray) -> float | None:
    """The most common step between times in hours, or None with fewer than two times."""
    if hours.size < 2:
        return None
    steps, counts = np.unique(np.round(np.diff(hours), 6), return_counts=True)
    return float(steps[np.argmax(counts)])


def is_calendar_step(hours: np.ndarray) -> bool:
    """A step of one calendar month (28-31 days) or year (360-366 days), whose length varies with the calendar."""
    step = regular_step(hours)
    return step is not None and (28 * 24 <= step <= 31 * 24 or 360 * 24 <= step <= 366 * 24)


def check_time_axis(axis: TimeAxis) -> list[Violation]:
    """Monotonic, unique and regular times; months and years count as regular (28-31 days, or 30 in a 360-day
    calendar; 365-366 days, winter means dated anywhere within 3 days of the same day)."""
    hours = axis.values
    out: list[Violation] = []
    if hours.size == 0:
        return [Violation(field="time", code="empty", reason="no time steps")]
    diffs = np.diff(hours)
    if (diffs == 0).any():
        out.append(Violation(field="time", code="duplicate", reason=f"{int((diffs == 0).sum())} repeated times"))
    if (diffs < 0).any():
        first = int(np.argmax(diffs < 0))
        out.append(Violation(field="time", code="order", reason=f"times run backwards after step {first}"))
    if out or hours.size < 2:
        return out
    step = regular_step(hours)
    tolerance = 3 * 24 if is_calendar_step(hours) else 1e-6  # calendar months and years differ by up to 3 days
    off = np.abs(diffs - step) > tolerance
    if off.any():
        multiples = diffs[off] / step
        whole = np.abs(multiples - np.round(multiples)) * step <= tolerance
        if whole.all():
            missing = int(np.round(multiples).sum() - multiples.size)
            out.append(Violation(field="time", code="missing_steps", reason=f"{missing} missing steps of {step:g} h"))
        else:
            out.append(
                Violation(
                    field="time",
                    code="irregular",
                    reason=f"{int(off.sum())} steps differ from the usual {step:g} h (e.g. {diffs[off][0]:g} h)",
                )
            )
    return out


def check_grid(ds: xr.Dataset, reference: xr.Dataset | None) -> list[Violation]:
    """Same latitudes, longitudes (and levels) as the reference file, within `GRID_TOLERANCE` degrees."""
    out: list[Violation] = []
    if reference is None:
        return out
    for axis in ("lat", "lon", "level"):
        if (axis in ds.coords) != (axis in reference.coords):
            out.append(Violation(field=axis, code="grid", reason=f"{axis} axis present in only one of the files"))
            continue
        if axis not in ds.coords:
            continue
        got, want = ds[axis].values, reference[axis].values
        if got.shape != want.shape:
            out.append(Violation(field=axis, code="grid", reason=f"{got.size} {axis} points, first file {want.size}"))
        elif np.abs(got - want).max() > GRID_TOLERANCE:
            out.append(
                Violation(
                    field=axis,
                    code="grid",
                    reason=f"{axis} values differ from the first file's grid "
                    f"(largest difference {np.abs(got - want).max():.4g})",
                )
            )
    return out


def check_variables(ds: xr.Dataset, reference: xr.Dataset | None) -> list[Violation]:
    if reference is None or list(ds.data_vars) == list(reference.data_vars):
        return []
    return [
        Violation(
            field="variables",
            code="grid",
            reason=f"variables {list(ds.data_vars)} differ from the first file's {list(reference.data_vars)}",
        )
    ]


def field_contract(variables: int, grid: tuple[int, ...], max_nan_fraction: float, has_level: bool) -> SampleContract:
    """What one input file must hold after harmonisation; grid = ([levels], lat, lon) sizes of the first file."""
    dims = ["time", "variable", *(["level"] if has_level else []), "lat", "lon"]
    spatial = list(grid)
    arrays = [
        ArraySpec(
            name="fields",
            dims=dims,
            dtype="float32",
            shape=["time", variables, *spatial],
            nan_policy="allow",
            max_nan_fraction=max_nan_fraction,
            description="harmonised fields in canonical units",
        ),
        ArraySpec(
            name="time",
            dims=["time"],
            dtype="float64",
            shape=["time"],
            units=TIME_UNITS,
            description="valid time in the file's calendar",
        ),
        ArraySpec(name="lat", dims=["lat"], dtype="float64", shape=[grid[-2]], min=-90, max=90, units="degrees_north"),
        ArraySpec(name="lon", dims=["lon"], dtype="float64", shape=[grid[-1]], min=-360, max=360, units="degrees_east"),
    ]
    if has_level:
        arrays.append(ArraySpec(name="level", dims=["level"], dtype="float64", shape=[grid[0]], units="hPa"))
    return SampleContract(name="climate-fields", arrays=arrays)
