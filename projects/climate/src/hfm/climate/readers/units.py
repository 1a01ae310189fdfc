"""CF units brought to one canonical unit per quantity, so files from different centres agree.

Temperatures end in K, pressures in Pa, geopotential in m2 s-2 (geopotential height in m is multiplied by g0, as
ECMWF and WeatherBench store `z`). A unit we do not know is an error naming the variable, never a silent pass.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from hfm.shared.errors import InvalidInput

G0 = 9.80665  # standard gravity, m s-2 (WMO), converts geopotential height to geopotential

# unit spelling (lower case) -> (canonical unit, scale, offset): canonical = value * scale + offset
_CONVERSIONS: dict[str, tuple[str, float, float]] = {
    "k": ("K", 1.0, 0.0),
    "kelvin": ("K", 1.0, 0.0),
    "degk": ("K", 1.0, 0.0),
    "c": ("K", 1.0, 273.15),
    "degc": ("K", 1.0, 273.15),
    "deg_c": ("K", 1.0, 273.15),
    "degrees_c": ("K", 1.0, 273.15),
    "degree_celsius": ("K", 1.0, 273.15),
    "degrees_celsius": ("K", 1.0, 273.15),
    "celsius": ("K", 1.0, 273.15),
    "°c": ("K", 1.0, 273.15),
    "pa": ("Pa", 1.0, 0.0),
    "hpa": ("Pa", 100.0, 0.0),
    "mb": ("Pa", 100.0, 0.0),
    "mbar": ("Pa", 100.0, 0.0),
    "millibars": ("Pa", 100.0, 0.0),
    "kpa": ("Pa", 1000.0, 0.0),
    "m**2 s**-2": ("m2 s-2", 1.0, 0.0),
    "m2 s-2": ("m2 s-2", 1.0, 0.0),
    "m^2/s^2": ("m2 s-2", 1.0, 0.0),
    "m**-2 s**2": ("m2 s-2", 1.0, 0.0),
    "m s**-1": ("m s-1", 1.0, 0.0),
    "m s-1": ("m s-1", 1.0, 0.0),
    "m/s": ("m s-1", 1.0, 0.0),
    "kg m**-2 s**-1": ("kg m-2 s-1", 1.0, 0.0),
    "kg m-2 s-1": ("kg m-2 s-1", 1.0, 0.0),
    "(0 - 1)": ("1", 1.0, 0.0),
    "1": ("1", 1.0, 0.0),
    "%": ("1", 0.01, 0.0),
    "m": ("m", 1.0, 0.0),
    "gpm": ("m", 1.0, 0.0),
}

_GEOPOTENTIAL_HEIGHT = {"geopotential_height", "gh", "zg", "hgt"}
# Where the median of a field must lie in its canonical unit: Kelvin values labelled degC end near 550 K.
PLAUSIBLE_MEDIAN: dict[str, tuple[float, float]] = {"K": (150.0, 350.0)}


def canonical_units(units: str) -> str:
    """The unit a value in `units` is stored in after harmonisation."""
    return _lookup(units, "units")[0]


def _lookup(units: str, name: str) -> tuple[str, float, float]:
    key = " ".join(units.strip().lower().split())
    if key not in _CONVERSIONS:
        raise InvalidInput(
            f"unknown units {units!r}; known: K, degC, Pa, hPa, m2 s-2, m, m s-1, ...", field=name, code="units"
        )
    return _CONVERSIONS[key]


def to_canonical(field: xr.DataArray, name: str, units: str | None) -> xr.DataArray:
    """`field` converted to its canonical unit; geopotential height (m) becomes geopotential (m2 s-2)."""
    if not units:
        raise InvalidInput("no units attribute (CF requires one)", field=name, code="units")
    canonical, scale, offset = _lookup(units, name)
    standard = str(field.attrs.get("standard_name", "")).lower()
    if canonical == "m" and (standard in _GEOPOTENTIAL_HEIGHT or name.lower() in _GEOPOTENTIAL_HEIGHT):
        canonical, scale = "m2 s-2", G0
    out = field.astype("float64") * scale + offset if (scale, offset) != (1.0, 0.0) else field.astype("float64")
    out.attrs = {**field.attrs, "units": canonical}
    if units != canonical:
        out.attrs["units_converted_from"] = units
    return out


def check_plausible(field: xr.DataArray, name: str) -> None:
    """`InvalidInput` (code `units`) when a converted field's median is impossible for its canonical unit.

    The median, not the extremes, so fill values and a few outliers do not decide; a wrong unit label moves it all.
    """
    units = str(field.attrs.get("units", ""))
    if units not in PLAUSIBLE_MEDIAN or "units_converted_from" not in field.attrs:
        return  # only converted fields: a label that triggered an offset is the one that can be wrong by 273 K
    values = field.values
    finite = values[np.isfinite(values)]
    if not finite.size:
        return
    lo, hi = PLAUSIBLE_MEDIAN[units]
    median = float(np.median(finite))
    if not lo <= median <= hi:
        source = field.attrs.get("units_converted_from", units)
        raise InvalidInput(
            f"median {median:.1f} {units} (from values labelled {source!r}) is outside the plausible {lo:g}-{hi:g} "
            f"{units}: wrong units label?",
            field=name,
            code="units",
        )
