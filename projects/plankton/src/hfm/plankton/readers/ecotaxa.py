"""EcoTaxa export bundles: read them into the harmonised standard and write them back.

An EcoTaxa bundle is one or more tab-separated files named `ecotaxa_*.tsv` whose columns are prefixed by what they
describe: `object_` (the imaged object), `sample_`, `acq_` (acquisition), `process_` and `img_` (the image file).
The second row may hold a type per column, `[t]` text or `[f]` float. The images lie beside the TSV (paths in
`img_file_name` are relative to it), or the whole bundle is a zip archive.

Mapping to the standard (`hfm.plankton.contract`):

| standard | EcoTaxa |
|---|---|
| object_id | object_id |
| image_path | img_file_name |
| instrument | acq_instrument, else sample_instrument, else "unknown" |
| pixel_size_um | process_pixel (um), else process_pixel_size_um, else acq_pixel_size_um, else acq_pixel (mm, UVP) |
| latitude, longitude | object_lat, object_lon |
| depth_m | mid-point of object_depth_min and object_depth_max |
| datetime | object_date (YYYYMMDD) and object_time (HHMMSS), UTC |
| taxon | object_annotation_category |
| annotation_status | object_annotation_status ("" -> unclassified) |
| sample_id | sample_id |

All other columns travel along, so writing back keeps the source's own measurements, under EcoTaxa's import rules
(its backend's TSV validation, `BO/TSVFile.py` and `BO/Mappings.py` of ecotaxa_back): a column's prefix must be one
EcoTaxa stores free columns for (`object_`, `sample_`, `acq_`, `process_`), or the column one of its predefined
`img_file_name`, `img_rank`; any other column is written as `object_<column>`. Where `acq_` or `process_` columns are
written, `acq_id` and `process_id` are too (EcoTaxa refuses them otherwise): a row without one gets an identifier made
from a hash of its own `acq_` (`process_`) values, so rows with the same values share one acquisition (process).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from hfm.plankton.contract import STANDARD_COLUMNS
from hfm.plankton.readers.objects import PlanktonObjects
from hfm.plankton.readers.stores import FolderStore, ZipStore, safe_relative
from hfm.shared.errors import HFMError
from hfm.shared.safety.paths import inside
from hfm.shared.safety.text import check_utf8_text

_TYPE_CELL = re.compile(r"\[[tf]\]")
# EcoTaxa columns regenerated from the standard on writing (so they are not carried as the source's own columns).
_DERIVED = (
    "object_id",
    "img_file_name",
    "object_lat",
    "object_lon",
    "object_date",
    "object_time",
    "object_annotation_category",
    "object_annotation_status",
)
# (column, factor to micrometres per pixel); the first present and non-empty wins.
PIXEL_SIZE_COLUMNS = (
    ("process_pixel", 1.0),
    ("process_pixel_size_um", 1.0),
    ("acq_pixel_size_um", 1.0),
    ("acq_pixel", 1000.0),  # UVP exports give the pixel size in mm
)
_STATUS = {"validated": "validated", "predicted": "predicted", "dubious": "dubious", "": "unclassified"}


def read_tsv(handle: io.TextIOBase, name: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """One EcoTaxa TSV as text columns, and the `[t]`/`[f]` types of its second row when present."""
    rows = list(csv.reader(handle, delimiter="\t"))
    if not rows:
        raise HFMError(f"{name}: empty file, expected a header row of EcoTaxa columns")
    header = [h.strip() for h in rows[0]]
    missing = {"object_id", "img_file_name"} - set(header)
    if missing:
        raise HFMError(f"{name}: column(s) {sorted(missing)} missing from the header; not an EcoTaxa export")
    types: dict[str, str] = {}
    body = rows[1:]
    if body and all(_TYPE_CELL.fullmatch(c.strip()) for c in body[0] if c.strip()) and any(c.strip() for c in body[0]):
        types = {h: c.strip() for h, c in zip(header, body[0], strict=False)}
        body = body[1:]
    for number, row in enumerate(body, start=3 if types else 2):
        if len(row) != len(header):
            raise HFMError(f"{name}: line {number} has {len(row)} fields, the header has {len(header)}")
    table = pd.DataFrame(body, columns=header, dtype=object)
    for column, kind in types.items():
        if kind == "[f]":
            values = pd.to_numeric(table[column].where(table[column] != "", None), errors="coerce")
            bad = table[column].ne("") & values.isna()
            if bad.any():
                line = int(np.flatnonzero(bad.to_numpy())[0]) + 3
                raise HFMError(
                    f"{name}: column {column} is typed [f] but line {line} holds {table[column][bad].iloc[0]!r}"
                )
    return table, types


def _float(table: pd.DataFrame, column: str) -> pd.Series:
    if column not in table:
        return pd.Series(np.nan, index=table.index)
    return pd.to_numeric(table[column].where(table[column] != "", None), errors="coerce")


def _datetime(table: pd.DataFrame) -> pd.Series:
    def one(date: object, time: object) -> str | None:
        date, time = str(date or "").strip(), str(time or "").strip().zfill(6)
        if not re.fullmatch(r"\d{8}", date):
            return None
        time = time if re.fullmatch(r"\d{6}", time) else "000000"
        return f"{date[:4]}-{date[4:6]}-{date[6:]}T{time[:2]}:{time[2:4]}:{time[4:]}Z"

    dates = table.get("object_date", pd.Series("", index=table.index))
    times = table.get("object_time", pd.Series("", index=table.index))
    return pd.Series([one(d, t) for d, t in zip(dates, times, strict=True)], index=table.index, dtype=object)


def _text(table: pd.DataFrame, *columns: str, default: str | None = None) -> pd.Series:
    out = pd.Series(default, index=table.index, dtype=object)
    for column in reversed(columns):
        if column in table:
            values = table[column].astype(str).str.strip()
            out = values.where(values != "", out)
    return out


def to_standard(raw: pd.DataFrame) -> pd.DataFrame:
    """EcoTaxa columns -> the standard table, with the source's own columns after the standard ones."""
    pixel = pd.Series(np.nan, index=raw.index)
    for column, factor in reversed(PIXEL_SIZE_COLUMNS):
        values = _float(raw, column) * factor
        pixel = values.where(values.notna(), pixel)
    depth = pd.concat([_float(raw, "object_depth_min"), _float(raw, "object_depth_max")], axis=1).mean(axis=1)
    status = _text(raw, "object_annotation_status", default="").str.lower()
    unknown = ~status.isin(list(_STATUS))
    if unknown.any():
        raise HFMError(
            f"column object_annotation_status: values {sorted(set(status[unknown]))} are not EcoTaxa statuses "
            f"({', '.join(s for s in _STATUS if s)} or empty)"
        )
    standard = pd.DataFrame(
        {
            "object_id": raw["object_id"].astype(str),
            "image_path": raw["img_file_name"].astype(str),
            "instrument": _text(raw, "acq_instrument", "sample_instrument", default="unknown"),
            "pixel_size_um": pixel,
            "latitude": _float(raw, "object_lat"),
            "longitude": _float(raw, "object_lon"),
            "depth_m": depth,
            "datetime": _datetime(raw),
            "taxon": _text(raw, "object_annotation_category"),
            "annotation_status": status.map(_STATUS),
            "sample_id": _text(raw, "sample_id"),
        }
    )
    own = raw[[c for c in raw.columns if c not in _DERIVED and c not in STANDARD_COLUMNS]]
    return pd.concat([standard, own], axis=1)


def _tsv_members(names: list[str]) -> list[str]:
    return sorted(n for n in names if re.fullmatch(r"(.*/)?ecotaxa_[^/]*\.tsv", n))


def read_ecotaxa(path: str | Path) -> PlanktonObjects:
    """Read an EcoTaxa export: a `ecotaxa_*.tsv` file, a folder holding such files, or a zip archive of them."""
    path = Path(path)
    if not path.exists():
        raise HFMError(f"{path}: no such file or folder")
    tables, types = [], {}
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path) as archive:
            members = _tsv_members(archive.namelist())
            if not members:
                raise HFMError(f"{path}: the archive holds no ecotaxa_*.tsv file")
            prefixes = {m.rpartition("/")[0] for m in members}
            if len(prefixes) > 1:
                raise HFMError(f"{path}: TSV files in several folders {sorted(prefixes)}; expected one")
            for member in members:
                with archive.open(member) as raw:
                    try:
                        table, kinds = read_tsv(io.TextIOWrapper(raw, encoding="utf-8", newline=""), f"{path}!{member}")
                    except UnicodeDecodeError as error:
                        raise HFMError(f"{path}!{member}: not UTF-8 text ({error.reason}); re-save as UTF-8") from None
                tables.append(table)
                types.update(kinds)
        store = ZipStore(path, prefixes.pop())
    else:
        files = [path] if path.is_file() else sorted(path.glob("ecotaxa_*.tsv"))
        escaping = [f for f in files if path.is_dir() and not inside(path, f)]
        if escaping:  # a table symlinked from elsewhere would make us read (and cite) a file outside the export
            raise HFMError(f"{escaping[0]}: a symlink leading outside {path}; copy the table into the export")
        if not files:
            raise HFMError(f"{path}: no ecotaxa_*.tsv file in this folder")
        for file in files:
            check_utf8_text(file)  # a Latin-1 export is refused naming the file, not with a bare codec error
            with open(file, encoding="utf-8", newline="") as handle:
                table, kinds = read_tsv(handle, str(file))
            tables.append(table)
            types.update(kinds)
        store = FolderStore(files[0].parent)
    raw = pd.concat(tables, ignore_index=True).fillna("")
    table = to_standard(raw)
    for column, kind in types.items():  # the source's own numeric columns come back as numbers
        if kind == "[f]" and column in table and column not in STANDARD_COLUMNS:
            table[column] = _float(table, column)
    return PlanktonObjects(table, store, path, column_types=types)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return repr(float(value))  # shortest text that reads back as the same float
    return str(value)


def from_standard(table: pd.DataFrame) -> pd.DataFrame:
    """The standard table -> EcoTaxa columns (the inverse of `to_standard` for every standard column)."""
    stamp = table["datetime"].map(lambda s: None if s is None else pd.Timestamp(s).tz_convert("UTC"))
    out = pd.DataFrame(
        {
            "img_file_name": table["image_path"],
            "object_id": table["object_id"],
            "object_lat": table["latitude"],
            "object_lon": table["longitude"],
            "object_date": stamp.map(lambda t: None if t is None else t.strftime("%Y%m%d")),
            "object_time": stamp.map(lambda t: None if t is None else t.strftime("%H%M%S")),
            "object_annotation_category": table["taxon"],
            "object_annotation_status": table["annotation_status"].map(lambda s: "" if s == "unclassified" else s),
            "acq_instrument": table["instrument"],
            "process_pixel": table["pixel_size_um"],
            "sample_id": table["sample_id"],
        }
    )
    own = table[[c for c in table.columns if c not in STANDARD_COLUMNS and c not in out.columns]]
    # A depth range the source gave stays a range; only a missing or inconsistent one is rewritten from depth_m.
    if not {"object_depth_min", "object_depth_max"} <= set(own.columns):
        out["object_depth_min"] = table["depth_m"]
        out["object_depth_max"] = table["depth_m"]
    # Pixel sizes given in another column (e.g. UVP acq_pixel in mm) are now in process_pixel, in um.
    own = own.drop(columns=[c for c, _ in PIXEL_SIZE_COLUMNS if c in own and c != "process_pixel"])
    own = own.rename(columns={c: f"object_{c}" for c in own.columns if not importable(c)})
    return _with_parent_ids(pd.concat([out, own], axis=1))


# EcoTaxa stores free columns of these tables; beside them it knows only its predefined `img_` columns.
IMPORTABLE_PREFIXES = ("object", "sample", "acq", "process")
PREDEFINED_IMG_COLUMNS = ("img_file_name", "img_rank")


def importable(column: str) -> bool:
    """Whether EcoTaxa's import takes this column (prefix before the first `_`, or a predefined `img_` one)."""
    prefix, _, field = column.partition("_")
    return bool(field) and (prefix in IMPORTABLE_PREFIXES or column in PREDEFINED_IMG_COLUMNS)


def _with_parent_ids(table: pd.DataFrame) -> pd.DataFrame:
    """`acq_id` / `process_id` for every row where acquisition / process columns exist (EcoTaxa requires them)."""
    for prefix in ("acq", "process"):
        columns = sorted(c for c in table.columns if c.startswith(f"{prefix}_") and c != f"{prefix}_id")
        if not columns:
            continue
        derived = (
            table[columns]
            .map(_cell)
            .apply(lambda row, p=prefix: f"{p}_" + hashlib.sha256("\t".join(row).encode()).hexdigest()[:12], axis=1)
            if len(table)
            else pd.Series("", index=table.index)  # apply on no rows gives a frame; a shard can be all quarantined
        )
        given = table[f"{prefix}_id"].map(_cell) if f"{prefix}_id" in table else pd.Series("", index=table.index)
        table[f"{prefix}_id"] = given.where(given != "", derived)
    return table


_FLOAT_COLUMNS = {"object_lat", "object_lon", "object_depth_min", "object_depth_max", "process_pixel"}


def write_tsv(objects_table: pd.DataFrame, path: Path, column_types: dict[str, str] | None = None) -> None:
    """Write the table as one EcoTaxa TSV with its `[t]`/`[f]` type row."""
    table = from_standard(objects_table)
    known = column_types or {}
    text = {"img_file_name", "object_id", "object_date", "object_time", "acq_instrument", "sample_id", "acq_id"}
    text.add("process_id")
    types = [
        known.get(c, "[f]" if c in _FLOAT_COLUMNS or (c not in text and _numeric(table[c])) else "[t]")
        for c in table.columns
    ]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(table.columns)
        writer.writerow(types)
        for row in table.itertuples(index=False):
            writer.writerow(_cell(v) for v in row)


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def write_ecotaxa(objects: PlanktonObjects, out: str | Path, name: str = "export", as_zip: bool = False) -> Path:
    """Write an EcoTaxa bundle (`ecotaxa_<name>.tsv` and the images at their paths) to a folder or a zip archive."""
    out = Path(out)
    images = {safe: objects.store.read(path) for path, safe in _image_paths(objects.table)}
    if as_zip:
        out.parent.mkdir(parents=True, exist_ok=True)
        scratch = out.with_suffix(".tsv.tmp")
        write_tsv(objects.table, scratch, objects.column_types)
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            # Fixed timestamps so the same objects give the same archive bytes.
            archive.writestr(zipfile.ZipInfo(f"ecotaxa_{name}.tsv", (1980, 1, 1, 0, 0, 0)), scratch.read_bytes())
            for member, data in sorted(images.items()):
                archive.writestr(zipfile.ZipInfo(member, (1980, 1, 1, 0, 0, 0)), data)
        scratch.unlink()
        return out
    out.mkdir(parents=True, exist_ok=True)
    for member, data in images.items():
        target = out / member
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    write_tsv(objects.table, out / f"ecotaxa_{name}.tsv", objects.column_types)
    return out


def _image_paths(table: pd.DataFrame) -> list[tuple[str, str]]:
    return [(p, safe_relative(p)) for p in table["image_path"]]
