"""EcoTaxa's import rules for a TSV, written from its backend's validation (ecotaxa_back `BO/TSVFile.py`:
`validate_structure`, `validate_content`; `BO/Mappings.py`: the predefined fields and the tables with free columns),
since the backend itself (PostgreSQL, a vault) cannot run in a test. Returns EcoTaxa's messages, [] when it would
import the file."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from PIL import Image

PREDEFINED = {
    "object_id", "sample_id", "acq_id", "process_id", "object_lat", "object_lon", "object_date", "object_time",
    "object_link", "object_depth_min", "object_depth_max", "object_annotation_category",
    "object_annotation_category_id", "object_annotation_date", "object_annotation_person_name",
    "object_annotation_status", "img_rank", "img_file_name", "sample_dataportal_descriptor", "acq_instrument",
}  # fmt: skip
PROGRAM_FIELDS = {"object_annotation_time", "object_annotation_person_email"}
FREE_COLUMN_TABLES = {"object", "acq", "process", "sample"}  # prefixes whose tables take custom columns
STATUSES = {"", "predicted", "validated", "dubious"}


def check_import(tsv: Path) -> list[str]:
    with open(tsv, encoding="latin_1", newline="") as handle:  # EcoTaxa reads TSVs as Latin-1
        rows = list(csv.reader(handle, delimiter="\t", quotechar='"'))
    header = [h.strip(" \t").lower() for h in rows[0]]
    types = dict(zip(header, rows[1], strict=True))
    errors = _structure(header, types, tsv.name)
    seen: set[str] = set()
    for number, raw in enumerate(rows[2:], start=1):
        errors += _line(dict(zip(header, raw, strict=True)), types, number, tsv, seen)
    return errors


def _structure(header: list[str], types: dict[str, str], name: str) -> list[str]:
    errors, by_prefix = [], {}
    for field in header:
        prefix, _, rest = field.partition("_")
        if not rest:
            errors.append(f"Invalid Header '{field}' in file {name}. Format must be Table_Field. Field ignored")
            continue
        by_prefix.setdefault(prefix, set()).add(field)
        if field in PREDEFINED or field in PROGRAM_FIELDS:
            continue
        if prefix not in FREE_COLUMN_TABLES:
            errors.append(f"Invalid Header '{field}' in file {name}. Unknown table prefix. Field ignored")
        elif prefix == "object" and types[field] not in ("[f]", "[t]"):
            errors.append(f"Invalid Type '{types[field]}' for Field '{field}' in file {name}. Incorrect Type.")
    for prefix, fields in by_prefix.items():
        if prefix in FREE_COLUMN_TABLES and f"{prefix}_id" not in fields:
            errors.append(f"In {name}, field {prefix}_id is mandatory as there are some {prefix} columns")
    return errors


def _line(row: dict[str, str], types: dict[str, str], number: int, tsv: Path, seen: set[str]) -> list[str]:
    errors, name = [], tsv.name
    for field, value in row.items():
        value = value.strip()
        if not value:
            continue
        if field in ("object_lat", "object_lon"):
            limit = 90 if field == "object_lat" else 180
            if not -limit <= float(value) <= limit:
                errors.append(f"Invalid {field} value '{value}' in file {name}, line {number}")
        elif types.get(field) == "[f]" and field.startswith("object_") and not _is_float(value):
            errors.append(f"Invalid float value '{value}' for Field '{field}' in file {name}.")
    if row.get("object_annotation_status", "").strip().lower() not in STATUSES:
        errors.append(f"Invalid annotation status '{row['object_annotation_status']}' in line {number} of {name}")
    if not row.get("object_id", "").strip():
        errors.append(f"Missing object_id in line '{number}' of file {name}. ")
    image = tsv.parent / row.get("img_file_name", "MissingField img_file_name")
    if not image.is_file():
        errors.append(f"Missing Image '{row.get('img_file_name')}' in file {name}. ")
    else:
        try:
            Image.open(image).close()
        except Exception as error:  # EcoTaxa refuses any file PIL cannot open
            errors.append(f"Error while reading Image '{row['img_file_name']}' in file {name}. {error}")
    key = f"{row.get('object_id')}*{row.get('img_file_name')}"
    if key in seen:
        errors.append(f"Duplicate object '{row.get('object_id')}' Image '{row.get('img_file_name')}' in file {name}. ")
    seen.add(key)
    return errors


def _is_float(value: str) -> bool:
    try:
        return not math.isnan(float(value)) or value.lower() == "nan"
    except ValueError:
        return False
