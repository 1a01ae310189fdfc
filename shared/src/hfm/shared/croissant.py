"""Export a dataset card as MLCommons Croissant 1.1 JSON-LD.

Every data file becomes a `cr:FileObject` with its sha256; files of one kind in one folder are also grouped in a
`cr:FileSet`. The metadata table becomes a RecordSet with one field per column, the sample arrays a RecordSet whose
fields are arrays (`isArray`, `arrayShape`, -1 for free axes).
"""

from __future__ import annotations

from collections import Counter
from pathlib import PurePosixPath
from typing import Any

from hfm.shared.cards import DatasetCard

CROISSANT_1_1 = "http://mlcommons.org/croissant/1.1"
_TABLE_SUFFIXES = {".csv", ".tsv"}
_SIDE_SUFFIXES = {".json", ".md"}

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
    "datetime": "sc:DateTime",
}


def _array_type(dtype: str) -> str:
    if dtype.startswith(("float", "floating", "number")):
        return "sc:Float"
    if dtype.startswith(("int", "uint", "integer")):
        return "sc:Integer"
    if dtype == "bool":
        return "sc:Boolean"
    return "sc:Text"


def _file_id(path: str) -> str:
    return f"file:{path}"


def _array_source(card: DatasetCard) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Where the sample arrays live: one file, or a FileSet over the most common folder and suffix."""
    data = [f for f in card.files if PurePosixPath(f.path).suffix not in _TABLE_SUFFIXES | _SIDE_SUFFIXES]
    if not data:
        data = list(card.files)
    if len(data) == 1:
        return {"fileObject": {"@id": _file_id(data[0].path)}}, []
    groups = Counter((str(PurePosixPath(f.path).parent), PurePosixPath(f.path).suffix) for f in data)
    (folder, suffix), _ = groups.most_common(1)[0]
    pattern = f"{folder}/*{suffix}" if folder != "." else f"*{suffix}"
    file_set = {
        "@type": "cr:FileSet",
        "@id": "fileset:samples",
        "name": "samples",
        "description": f"the sample files ({pattern})",
        "encodingFormat": data[0].encoding_format or "application/octet-stream",
        "includes": pattern,
    }
    return {"fileSet": {"@id": "fileset:samples"}}, [file_set]


def to_croissant(card: DatasetCard) -> dict[str, Any]:
    license_url = (
        f"https://spdx.org/licenses/{card.license}.html" if not card.license.startswith("LicenseRef-") else card.license
    )
    distribution: list[dict[str, Any]] = [
        {
            "@type": "cr:FileObject",
            "@id": _file_id(entry.path),
            "name": entry.path,
            "contentUrl": entry.path,
            "contentSize": f"{entry.bytes} B",
            "encodingFormat": entry.encoding_format or "application/octet-stream",
            "sha256": entry.sha256,
        }
        for entry in card.files
    ]
    array_source, file_sets = _array_source(card)
    distribution += file_sets
    record_sets: list[dict[str, Any]] = []
    table = next((f for f in card.files if PurePosixPath(f.path).suffix in _TABLE_SUFFIXES), None)
    if table is not None and card.metadata_contract is not None:
        record_sets.append(
            {
                "@type": "cr:RecordSet",
                "@id": "metadata",
                "name": "metadata",
                "description": f"one row per record of {table.path}",
                "field": [
                    {
                        "@type": "cr:Field",
                        "@id": f"metadata/{column.name}",
                        "name": column.name,
                        "description": column.description or column.name,
                        "dataType": _COLUMN_TYPES[column.dtype],
                        "source": {"fileObject": {"@id": _file_id(table.path)}, "extract": {"column": column.name}},
                    }
                    for column in card.metadata_contract.columns
                ],
            }
        )
    record_sets.append(
        {
            "@type": "cr:RecordSet",
            "@id": "samples",
            "name": "samples",
            "description": f"sample arrays under contract {card.contract.name} v{card.contract.version}",
            "field": [
                {
                    "@type": "cr:Field",
                    "@id": f"samples/{spec.name}",
                    "name": spec.name,
                    "description": spec.description
                    or f"{spec.name} ({', '.join(spec.dims)}){f' in {spec.units}' if spec.units else ''}",
                    "dataType": _array_type(spec.dtype),
                    "isArray": True,
                    "arrayShape": ",".join(str(s) if isinstance(s, int) else "-1" for s in spec.shape),
                    "source": {**array_source, "extract": {"fileProperty": "content"}},
                }
                for spec in card.contract.arrays
            ],
        }
    )
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
