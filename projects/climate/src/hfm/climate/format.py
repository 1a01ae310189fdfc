"""The harmonised CF zarr store: one array `fields` (time, variable, [level], lat, lon) and its statistics.

`CFZarrWriter` is the curation writer (the core's `SampleWriter`): it receives each valid input file as a sample,
joins them along time, computes mean/std/min/max per variable on the training period only, and writes
`data.zarr`. `CFZarrFormat` reads a dataset folder back for `hfm card validate`. The layout is documented column by
column in docs/climate.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hfm.climate.contract import TIME_UNITS, TimeAxis
from hfm.shared.contracts import Sample
from hfm.shared.errors import HFMError

FORMAT_NAME = "cf-zarr"
STORE = "data.zarr"
LAYOUT = "hfm-climate/1"
_CHUNK_BYTES = 2**21  # ~2 MB time chunks: a training window touches one or two chunks


def dataset_to_sample(ds: xr.Dataset, axis: TimeAxis, source: str) -> Sample:
    variables = list(ds.data_vars)
    fields = np.stack([ds[v].values for v in variables], axis=1).astype("float32")
    arrays = {"fields": fields, "time": axis.values, "lat": ds["lat"].values, "lon": ds["lon"].values}
    if "level" in ds.coords:
        arrays["level"] = ds["level"].values.astype("float64")
    return Sample(
        arrays=arrays,
        units={"time": axis.units, "lat": "degrees_north", "lon": "degrees_east", "level": "hPa"},
        attrs={
            "source": source,
            "variables": variables,
            "variable_units": [ds[v].attrs["units"] for v in variables],
            "variable_standard_names": [source_standard_name(ds[v]) for v in variables],
            "calendar": axis.calendar,
        },
    )


def source_standard_name(field: xr.DataArray) -> str:
    """The source's CF standard_name of a variable, "" where it has none (cfgrib writes 'unknown' for those)."""
    name = str(field.attrs.get("standard_name", "")).strip()
    return "" if name.lower() == "unknown" else name


def parse_date(text: str, calendar: str) -> float:
    """'YYYY-MM-DD[THH]' as hours in TIME_UNITS in `calendar` (so 360-day dates such as 2000-02-30 work)."""
    import cftime

    try:
        date, _, hour = text.partition("T")
        year, month, day = (int(p) for p in date.split("-"))
        stamp = cftime.datetime(year, month, day, int(hour.split(":")[0] or 0) if hour else 0, calendar=calendar)
    except (ValueError, TypeError) as error:
        raise HFMError(f"date {text!r}: expected YYYY-MM-DD or YYYY-MM-DDTHH valid in calendar {calendar}") from error
    return float(cftime.date2num(stamp, TIME_UNITS, calendar=calendar))


class CFZarrWriter:
    """Joins the valid inputs along time into `data.zarr` with training-period statistics."""

    format_name = FORMAT_NAME

    def __init__(
        self, train_start: str | None = None, train_end: str | None = None, title: str = "", shard: bool = False
    ) -> None:
        # shard: the store of one shard's time range, whose steps may all lie outside the training period
        self.train_start, self.train_end, self.title, self.shard = train_start, train_end, title, shard
        self._root: Path | None = None
        self._parts: list[tuple[str, Sample]] = []

    def open(self, root: Path) -> None:
        self._root, self._parts = root, []

    def write(self, key: str, sample: Sample) -> None:
        self._parts.append((key, sample))

    def close(self) -> list[str]:
        assert self._root is not None, "open() first"
        if not self._parts:
            return []
        parts = sorted(self._parts, key=lambda p: float(p[1].arrays["time"][0]))
        first = parts[0][1]
        ds = build_store_dataset(parts, self.train_start, self.train_end, self.title, allow_no_training=self.shard)
        path = self._root / STORE
        if path.exists():
            shutil.rmtree(path)
        step_bytes = int(np.prod(first.arrays["fields"].shape[1:])) * 4
        chunk = max(1, min(ds.sizes["time"], _CHUNK_BYTES // step_bytes))
        # CF 2.5.1: coordinate variables carry no fill value (zarr would otherwise store NaN as one)
        encoding: dict[str, dict[str, Any]] = {name: {"_FillValue": None} for name in ("lat", "lon", "level")}
        encoding = {name: value for name, value in encoding.items() if name in ds.coords}
        encoding["fields"] = {"chunks": (chunk, *first.arrays["fields"].shape[1:])}
        encoding["time"] = {"units": TIME_UNITS, "calendar": first.attrs["calendar"], "dtype": "float64",
                            "_FillValue": None}  # fmt: skip
        ds.to_zarr(path, mode="w", encoding=encoding, zarr_format=2, consolidated=True)
        return sorted(str(p.relative_to(self._root)) for p in path.rglob("*") if p.is_file())


def _decode(hours: np.ndarray, calendar: str) -> np.ndarray:
    import cftime

    if calendar in ("standard", "gregorian", "proleptic_gregorian"):
        return np.datetime64("1970-01-01T00:00:00", "ns") + np.round(hours * 3600).astype("int64").astype(
            "timedelta64[s]"
        )
    return cftime.num2date(hours, TIME_UNITS, calendar=calendar)


_STATISTICS = {"mean": np.nanmean, "std": np.nanstd, "min": np.nanmin, "max": np.nanmax}


def build_store_dataset(
    parts: list[tuple[str, Sample]],
    train_start: str | None,
    train_end: str | None,
    title: str = "",
    *,
    allow_no_training: bool = False,
) -> xr.Dataset:
    first = parts[0][1]
    calendar = first.attrs["calendar"]
    fields = np.concatenate([s.arrays["fields"] for _, s in parts], axis=0)
    hours = np.concatenate([s.arrays["time"] for _, s in parts])
    if (np.diff(hours) <= 0).any():
        raise HFMError("input files overlap in time after sorting; curate them separately or remove the overlap")
    sources = np.concatenate([[key] * s.arrays["time"].size for key, s in parts]).astype(str)
    variables = list(first.attrs["variables"])
    standard_names = list(first.attrs.get("variable_standard_names", [""] * len(variables)))
    has_level = "level" in first.arrays
    dims = ("time", "variable", *(("level",) if has_level else ()), "lat", "lon")
    lo = parse_date(train_start, calendar) if train_start else -np.inf
    hi = parse_date(train_end, calendar) + 24 - 1e-6 if train_end else np.inf  # the end day is inclusive
    train = (hours >= lo) & (hours <= hi)
    if not train.any() and not allow_no_training:
        raise HFMError(f"training period {train_start}..{train_end} holds no time step of the inputs")
    reduce = (0, *range(2 + has_level, fields.ndim))  # over time, lat, lon: one statistic per variable [and level]
    stats_dims = ("variable", *(("level",) if has_level else ()))
    train_fields = fields[train].astype("float64")
    if train.any():
        stats = {name: reduce_by(train_fields, axis=reduce) for name, reduce_by in _STATISTICS.items()}
    else:  # a shard outside the training period: NaN statistics, never those of other steps
        stats = {name: np.full(fields.shape[1 : 2 + has_level], np.nan) for name in _STATISTICS}
    coords: dict[str, Any] = {
        "time": ("time", _decode(hours, calendar), {"standard_name": "time", "axis": "T"}),
        "variable": ("variable", np.asarray(variables, dtype=str)),
        "lat": ("lat", first.arrays["lat"], {"units": "degrees_north", "standard_name": "latitude", "axis": "Y"}),
        "lon": ("lon", first.arrays["lon"], {"units": "degrees_east", "standard_name": "longitude", "axis": "X"}),
        "units": ("variable", np.asarray(first.attrs["variable_units"], dtype=str), {"long_name": "unit of each"}),
        "standard_name": (
            "variable",
            np.asarray(standard_names, dtype=str),
            {"long_name": "the source's CF standard_name of each variable ('' where it has none)"},
        ),
        "source": ("time", sources, {"long_name": "curated input file of each time step"}),
        "is_train": ("time", train, {"long_name": "time step in the training period"}),
    }
    if has_level:
        coords["level"] = ("level", first.arrays["level"], {"units": "hPa", "standard_name": "air_pressure"})
    step = float(np.median(np.diff(hours))) if hours.size > 1 else 0.0
    ds = xr.Dataset(
        {
            "fields": (dims, fields, _fields_attrs(first.attrs["variable_units"], standard_names)),
            "mean": (stats_dims, stats["mean"], {"long_name": "training-period mean"}),
            "std": (stats_dims, stats["std"], {"long_name": "training-period std"}),
            "min": (stats_dims, stats["min"], {"long_name": "training-period minimum"}),
            "max": (stats_dims, stats["max"], {"long_name": "training-period maximum"}),
            "nan_fraction": (stats_dims, np.isnan(fields).mean(axis=reduce), {"long_name": "fraction of NaN"}),
        },
        coords=coords,
        attrs={
            "Conventions": "CF-1.8",
            "title": title or ", ".join(variables),
            "history": "curated by hfm climate curate (hfm-climate)",  # no clock time: re-runs are byte-identical
            "hfm_layout": LAYOUT,
            "calendar": calendar,
            "time_step_hours": step,
            "train_start": train_start or "",
            "train_end": train_end or "",
            "train_steps": int(train.sum()),
        },
    )
    return ds


def _fields_attrs(units: list[str], standard_names: list[str]) -> dict[str, str]:
    """CF attributes of the stacked `fields`: `units` (and the source's `standard_name`) where every variable
    shares one; with mixed units the per-variable `units` and `standard_name` coordinates along `variable` hold
    them (a CF variable has one unit, so a stack of several has none of its own)."""
    attrs = {"long_name": "harmonised fields, canonical units per variable"}
    if len(set(units)) == 1:
        attrs["units"] = units[0]
    if len(set(standard_names)) == 1 and standard_names[0]:
        attrs["standard_name"] = standard_names[0]
    return attrs


def open_store(path: str | Path) -> xr.Dataset:
    """Open a curated dataset folder (or its data.zarr) lazily."""
    path = Path(path)
    if (path / STORE).exists():
        path = path / STORE
    elif (path / "shards").is_dir():
        raise HFMError(
            f"{path}: a sharded dataset (one {STORE} per shard under shards/); this reader takes one store: "
            "curate with --shard-size 0, or read it through CFZarrFormat and readable_format"
        )
    if not path.exists():
        raise HFMError(f"{path}: no {STORE}; run `hfm climate curate` first")
    ds = xr.open_zarr(path, consolidated=True, decode_times=xr.coders.CFDatetimeCoder(use_cftime=None))
    if ds.attrs.get("hfm_layout") != LAYOUT:
        raise HFMError(f"{path}: attribute hfm_layout is {ds.attrs.get('hfm_layout')!r}, expected {LAYOUT!r}")
    return ds


def _empty_shard(root: Path) -> bool:
    """A shard whose every file was quarantined has its manifest and no store."""
    from hfm.shared.shard_layout import SHARD_MANIFEST

    return (root / SHARD_MANIFEST).is_file() and not (root / STORE).exists()


class CFZarrFormat:
    """Reads a climate dataset folder (or one shard of a sharded one) back: one record per curated input file.

    `first_step` / `last_step` index the time axis of the store the file lies in (a shard's, when sharded)."""

    name = FORMAT_NAME

    def count(self, root: Path) -> int:
        return 0 if _empty_shard(root) else int(np.unique(open_store(root)["source"].values).size)

    def metadata(self, root: Path) -> pd.DataFrame | None:
        if _empty_shard(root):
            return pd.DataFrame({"key": [], "first_step": [], "last_step": []})
        ds = open_store(root)
        table = pd.DataFrame({"key": ds["source"].values, "step": np.arange(ds.sizes["time"])})
        return (
            table.groupby("key", sort=True)["step"]
            .agg(["min", "max"])
            .rename(columns={"min": "first_step", "max": "last_step"})
            .reset_index()
        )

    def iter_samples(self, root: Path) -> Iterator[tuple[str, Sample]]:
        from hfm.climate.contract import encode_times

        if _empty_shard(root):
            return
        ds = open_store(root)
        sources = ds["source"].values
        for key in sorted(np.unique(sources)):
            part = ds.isel(time=np.flatnonzero(sources == key))
            arrays = {
                "fields": part["fields"].values,
                "time": encode_times(part["time"], TIME_UNITS).values,
                "lat": part["lat"].values,
                "lon": part["lon"].values,
            }
            if "level" in part.coords:
                arrays["level"] = part["level"].values
            yield (
                str(key),
                Sample(
                    arrays=arrays,
                    units={"time": TIME_UNITS, "lat": "degrees_north", "lon": "degrees_east", "level": "hPa"},
                ),
            )
