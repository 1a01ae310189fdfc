"""One entry point for every reader: picks EcoTaxa, IFCB or an image folder from what the path is."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.plankton.readers.folders import read_image_folder
from hfm.plankton.readers.objects import PlanktonObjects
from hfm.shared.errors import HFMError

SourceKind = Literal["auto", "ecotaxa", "folder", "ifcb"]


def detect(path: Path) -> str:
    if path.suffix == ".hdr":
        return "ifcb"
    if path.suffix.lower() in (".zip", ".tsv") or (path.is_dir() and any(path.glob("ecotaxa_*.tsv"))):
        return "ecotaxa"
    if path.is_dir():
        return "folder"
    raise HFMError(f"{path}: not an EcoTaxa export (.tsv, .zip, folder), an IFCB bin (.hdr) or a folder of images")


def read_source(
    path: str | Path, kind: SourceKind = "auto", instrument: str | None = None, pixel_size_um: float | None = None
) -> PlanktonObjects:
    """Read any supported source. `instrument` and `pixel_size_um` fill rows that lack them."""
    path = Path(path)
    if not path.exists():
        raise HFMError(f"{path}: no such file or folder")
    kind = detect(path) if kind == "auto" else kind
    if kind == "ecotaxa":
        objects = read_ecotaxa(path)
    elif kind == "ifcb":
        from hfm.plankton.readers.ifcb import read_ifcb_bin

        objects = read_ifcb_bin(path) if pixel_size_um is None else read_ifcb_bin(path, pixel_size_um)
    elif kind == "folder":
        objects = read_image_folder(path, instrument or "unknown", pixel_size_um)
    else:
        raise HFMError(f"unknown source kind {kind!r}; use auto, ecotaxa, folder or ifcb")
    table = objects.table
    if instrument:
        table["instrument"] = table["instrument"].where(table["instrument"] != "unknown", instrument)
    if pixel_size_um is not None:
        table["pixel_size_um"] = table["pixel_size_um"].fillna(pixel_size_um)
    return objects
