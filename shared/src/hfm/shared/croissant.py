"""Export a dataset card as MLCommons Croissant 1.1 JSON-LD that `mlcroissant` can both validate and read.

Every data file becomes a `cr:FileObject` with its sha256 and its true encodingFormat. Records come only from files
mlcroissant decodes (CSV, TSV, JSON, PNG, JPEG): it cannot decode safetensors, HDF5, NIfTI or zarr, so those arrays
are described (dtype, dims, shape, units) in the `samples` RecordSet's description rather than declared as fields
mlcroissant would fail on.

- `metadata`: one record per sample from the dataset's own table (metadata.csv, EcoTaxa TSV), one field per column
  under the file's own column name; its key field `references` `samples`.
- `samples`: one record per sample: its key, where its data lies (a file path or SeisBench `trace_name`) and, for
  PNG/JPEG samples, the image itself (`sc:ImageObject`).
- Formats without a readable table (nnU-Net raw, CF zarr) get `croissant_samples.csv` beside the JSON-LD: the
  format reader's own per-sample table (key, split, grid, time steps) with the files of each sample.

An EcoTaxa TSV's second row declares column types (`[t]`, `[f]`); it is not a record. Croissant cannot skip a row,
so such a table is read through a join from its image files: only rows naming a real image come back.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from hfm.shared.cards import DatasetCard, file_entry
from hfm.shared.contracts import ArraySpec
from hfm.shared.errors import HFMError

CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
INDEX_FILE = "croissant_samples.csv"
_TABLE_FORMATS = {".csv": "text/csv", ".tsv": "text/tab-separated-values"}
_IMAGE_FORMATS = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
# The sample key of each community table, in order of preference (hfm-arrays, SeisBench, EcoTaxa).
_KEY_COLUMNS = ("key", "trace_name_original", "trace_name", "object_id")
# Where a sample's data lies when no column names a file: SeisBench's `bucket$index,:channels,:samples`, the files
# of an nnU-Net case, the time steps of a CF zarr store.
_LOCATOR_COLUMNS = ("trace_name", "files", "first_step", "last_step")
_ECOTAXA_TYPE = re.compile(r"\[[tf]\]")

# The JSON-LD vocabulary of Croissant 1.1 (schema.org terms plus the cr: namespace).
_CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "sc": "https://schema.org/",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "dct": "http://purl.org/dc/terms/",
    "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "name": {"@container": "@language"},
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}

_COLUMN_TYPES = {
    "int": "sc:Integer",
    "float": "sc:Float",
    "str": "sc:Text",
    "bool": "sc:Boolean",
    "datetime": "sc:Text",  # ISO strings as written; mlcroissant parses sc:DateTime only in its own formats
}


def _file_id(path: str) -> str:
    return f"file:{path}"


def _array_description(spec: ArraySpec) -> str:
    shape = ",".join(str(s) if isinstance(s, int) else "-1" for s in spec.shape)
    units = f" in {spec.units}" if spec.units else ""
    what = f": {spec.description}" if spec.description else ""
    return f"{spec.name} {spec.dtype}[{shape}] ({', '.join(spec.dims)}){units}{what}"


def _pandas_type(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "sc:Boolean"
    if pd.api.types.is_integer_dtype(series):
        return "sc:Integer"
    if pd.api.types.is_float_dtype(series):
        return "sc:Float"
    return "sc:Text"


class _Table:
    """The dataset's metadata table as mlcroissant will read it (pandas with the default parser)."""

    def __init__(self, root: Path, path: str) -> None:
        self.path = path
        self.encoding = _TABLE_FORMATS[PurePosixPath(path).suffix]
        try:
            frame = pd.read_csv(root / path, sep="\t" if self.encoding.endswith("values") else ",")
        except (OSError, ValueError) as error:
            raise HFMError(f"{root / path}: cannot be read as a table for Croissant ({error})") from error
        first = frame.iloc[0] if len(frame) else None
        # EcoTaxa's type row: `[t]` text, `[f]` float for every column.
        self.type_row: dict[str, str] | None = None
        if first is not None and all(isinstance(v, str) and _ECOTAXA_TYPE.fullmatch(v) for v in first):
            self.type_row = {str(c): str(v) for c, v in first.items()}
            frame = frame.iloc[1:]
        self.frame = frame
        self.columns = [str(c) for c in frame.columns]

    def data_type(self, column: str, contract_types: dict[str, str]) -> str:
        if self.type_row is not None:
            return "sc:Float" if self.type_row[column] == "[f]" else "sc:Text"
        if column in contract_types:
            declared = contract_types[column]
            # A declared int column with gaps is read by pandas as float.
            if declared == "sc:Integer" and self.frame[column].isna().any():
                return "sc:Float"
            return declared
        return _pandas_type(self.frame[column])

    def key_column(self) -> str | None:
        for column in _KEY_COLUMNS:
            if column in self.columns and self.frame[column].notna().all() and self.frame[column].is_unique:
                return column
        return None

    def path_column(self, files: set[str]) -> str | None:
        """A column whose every value names a data file of the dataset (EcoTaxa's `img_file_name`)."""
        for column in self.columns:
            values = self.frame[column].dropna()
            if len(values) and values.map(lambda v: isinstance(v, str) and v in files).all():
                return column
        return None


def _table_field(record_set: str, column: str, data_type: str, source: dict[str, Any], **extra: Any) -> dict:
    return {
        "@type": "cr:Field",
        "@id": f"{record_set}/{column}",
        "name": column,
        "description": extra.pop("description", None) or column,
        "dataType": data_type,
        "source": source,
        **extra,
    }


def _column_source(table_id: str, column: str) -> dict[str, Any]:
    return {"fileObject": {"@id": table_id}, "extract": {"column": column}}


def _sample_index(root: Path, card: DatasetCard) -> pd.DataFrame:
    """The format reader's own per-sample table with the data files of each sample (nnU-Net raw, CF zarr)."""
    from hfm.shared.plugins import find_format  # the plugins module imports the CLI registry

    table = find_format(card.format).metadata(root)
    if table is None or "key" not in table.columns:
        raise HFMError(
            f"{root}: format {card.format} gives no per-sample table with a `key` column; Croissant needs one"
        )
    table = table.sort_values("key").reset_index(drop=True)
    names = [f.path for f in card.files]

    def files_of(key: str) -> str:
        # nnU-Net: <case>_<channel>.nii.gz images, <case>.nii.gz labels
        mine = [p for p in names if re.fullmatch(re.escape(key) + r"(_\d{4})?\..+", PurePosixPath(p).name)]
        return ";".join(mine)

    files = table["key"].astype(str).map(files_of)
    if (files != "").any():
        table.insert(1, "files", files)
    return table


def to_croissant(card: DatasetCard, root: str | Path, base: str = "") -> dict[str, Any]:
    """Croissant 1.1 JSON-LD of the dataset in `root`; `base`: the dataset folder relative to the JSON-LD file.

    Reads the dataset's metadata table (column names and types as written). For formats without one it writes
    `croissant_samples.csv` in `root` (see the module docstring).
    """
    root = Path(root)
    license_url = (
        f"https://spdx.org/licenses/{card.license}.html" if not card.license.startswith("LicenseRef-") else card.license
    )

    def url(path: str) -> str:
        return f"{base}{path}"

    distribution: list[dict[str, Any]] = [
        {
            "@type": "cr:FileObject",
            "@id": _file_id(entry.path),
            "name": entry.path,
            "contentUrl": url(entry.path),
            "contentSize": f"{entry.bytes} B",
            "encodingFormat": entry.encoding_format or "application/octet-stream",
            "sha256": entry.sha256,
        }
        for entry in card.files
    ]
    files = {f.path for f in card.files}
    table_entry = next((f for f in card.files if PurePosixPath(f.path).suffix in _TABLE_FORMATS), None)
    if table_entry is None:
        index = _sample_index(root, card)
        index.to_csv(root / INDEX_FILE, index=False, lineterminator="\n")
        entry = file_entry(root / INDEX_FILE, INDEX_FILE)
        distribution.append(
            {
                "@type": "cr:FileObject",
                "@id": _file_id(INDEX_FILE),
                "name": INDEX_FILE,
                "description": f"one row per sample, written by `hfm card croissant` from the {card.format} reader",
                "contentUrl": url(INDEX_FILE),
                "contentSize": f"{entry.bytes} B",
                "encodingFormat": "text/csv",
                "sha256": entry.sha256,
            }
        )
        table_path = INDEX_FILE
    else:
        table_path = table_entry.path
    table = _Table(root, table_path)
    table_id = _file_id(table_path)
    key = table.key_column()
    if key is None:
        raise HFMError(f"{root / table_path}: no unique key column ({', '.join(_KEY_COLUMNS)}); Croissant needs one")
    path_column = table.path_column(files)
    contract_types = {}
    if card.metadata_contract is not None:
        contract_types = {c.name: _COLUMN_TYPES[c.dtype] for c in card.metadata_contract.columns}
    descriptions = {}
    if card.metadata_contract is not None:
        descriptions = {c.name: c.description for c in card.metadata_contract.columns if c.description}

    image_set = None
    if path_column is not None:
        suffixes = {PurePosixPath(str(p)).suffix.lower() for p in table.frame[path_column].dropna()}
        if len(suffixes) == 1 and (suffix := suffixes.pop()) in _IMAGE_FORMATS:
            if base.startswith(".."):  # mlcroissant looks for a FileSet's files under the JSON-LD's folder only
                raise HFMError(
                    f"{root}: its image files can be read only by a Croissant file in the dataset folder or above it"
                )
            folders = {str(PurePosixPath(str(p)).parent) for p in table.frame[path_column].dropna()}
            folder = folders.pop() if len(folders) == 1 else None
            pattern = f"{folder}/*{suffix}" if folder not in (None, ".") else f"**/*{suffix}"
            image_set = {
                "@type": "cr:FileSet",
                "@id": "fileset:images",
                "name": "images",
                "description": f"the sample images ({pattern})",
                "encodingFormat": _IMAGE_FORMATS[suffix],
                "includes": url(pattern),
            }
            distribution.append(image_set)

    # A table naming image files is read through its images: a left join keeps one record per real image, so an
    # EcoTaxa type row (or a row naming no image) never comes back.
    if image_set is not None:
        # The regex also turns mlcroissant's path object into the text the table holds, so the join matches.
        path_source: dict[str, Any] = {
            "fileSet": {"@id": "fileset:images"},
            "extract": {"fileProperty": "fullpath"},
            "transform": {"regex": f"^{re.escape(base)}(.*)$"},
        }
    else:
        path_source = {}

    def column_field(record_set: str, column: str, **extra: Any) -> dict[str, Any]:
        data_type = table.data_type(column, contract_types)
        if path_source and column == path_column:
            return _table_field(
                record_set,
                column,
                "sc:Text",
                path_source,
                references={"fileObject": {"@id": table_id}, "extract": {"column": column}},
                description=descriptions.get(column),
                **extra,
            )
        return _table_field(
            record_set,
            column,
            data_type,
            _column_source(table_id, column),
            description=descriptions.get(column),
            **extra,
        )

    metadata_fields = [column_field("metadata", c) for c in table.columns]
    for field in metadata_fields:
        if field["name"] == key:
            field["references"] = {"field": {"@id": f"samples/{key}"}}
            if path_source:  # the key comes from the join already; a second reference would join twice
                del field["references"]
    samples_fields = [column_field("samples", key)]
    locators = [path_column] if path_column else [c for c in _LOCATOR_COLUMNS if c in table.columns]
    samples_fields += [column_field("samples", c) for c in locators if c != key]
    if image_set is not None:
        samples_fields.append(
            {
                "@type": "cr:Field",
                "@id": "samples/image",
                "name": "image",
                "description": "the sample image as stored",
                "dataType": "sc:ImageObject",
                "source": {"fileSet": {"@id": "fileset:images"}, "extract": {"fileProperty": "content"}},
            }
        )
    arrays = "; ".join(_array_description(spec) for spec in card.contract.arrays)
    record_sets: list[dict[str, Any]] = [
        {
            "@type": "cr:RecordSet",
            "@id": "samples",
            "name": "samples",
            "key": {"@id": f"samples/{key}"},
            "description": (
                f"one record per sample of {card.format}, under contract {card.contract.name} "
                f"v{card.contract.version}; arrays: {arrays}"
            ),
            "field": samples_fields,
        },
        {
            "@type": "cr:RecordSet",
            "@id": "metadata",
            "name": "metadata",
            "key": {"@id": f"metadata/{key}"},
            "description": f"one record per sample: the columns of {table_path} as written",
            "field": metadata_fields,
        },
    ]
    document: dict[str, Any] = {
        "@context": _CONTEXT,
        "@type": "sc:Dataset",
        "name": card.name,
        "description": card.description,
        "conformsTo": CROISSANT_1_1,
        "license": license_url,
        "version": card.version,
        "creator": [
            {"@type": "sc:Person", "name": c.name, **({"affiliation": c.affiliation} if c.affiliation else {})}
            for c in card.creators
        ],
        "keywords": card.keywords,
        "distribution": distribution,
        "recordSet": record_sets,
    }
    if card.url:
        document["url"] = card.url
    if card.citation:
        document["citeAs"] = card.citation
    return document


def read_records(jsonld: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Every RecordSet of a Croissant file as mlcroissant validates and reads it (needs `pip install mlcroissant`).

    Field names lose their `recordset/` prefix and text comes back as `str`; mlcroissant raises on any error.
    """
    import mlcroissant

    dataset = mlcroissant.Dataset(jsonld=str(jsonld))
    out: dict[str, list[dict[str, Any]]] = {}
    for record_set in dataset.metadata.record_sets:
        out[record_set.name] = [
            {
                name.split("/", 1)[-1]: value.decode() if isinstance(value, bytes) else value
                for name, value in record.items()
            }
            for record in dataset.records(record_set.uuid)
        ]
    return out
