"""Curation input for plain NumPy files: a folder of `.npz` (named arrays) or `.npy` files, plus an optional CSV.

The generic path for data that has no domain reader: the CSV row whose `key` equals the file's stem becomes the
sample's metadata. Files are read with `allow_pickle=False`, so a crafted file cannot run code. Every file of the
folder is an input: other suffixes are quarantined as unsupported, symlinks leading outside are not followed, and an
npz's members are sized from their headers against the resource budget before anything is decompressed.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hfm.shared.contracts import Sample, SampleContract, TableContract
from hfm.shared.curation import CurationItem, rejected_item
from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.safety.headers import check_numpy_file
from hfm.shared.safety.inputs import list_inputs
from hfm.shared.safety.text import check_utf8_text

SUFFIXES = (".npz", ".npy")


def load_contracts(path: str | Path) -> tuple[SampleContract, TableContract | None]:
    """Read a YAML file with a `sample:` contract and an optional `metadata:` table contract."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
        sample = SampleContract.model_validate(document["sample"])
        metadata = TableContract.model_validate(document["metadata"]) if document.get("metadata") else None
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError) as error:
        raise HFMError(f"{path}: not a valid contract file ({type(error).__name__}: {error})") from error
    return sample, metadata


def _load(path: Path, attrs: dict, array_name: str) -> Sample:
    check_numpy_file(path)  # signature and decoded sizes from the headers, before np.load decompresses
    try:
        if path.suffix == ".npy":
            arrays = {array_name: np.load(path, allow_pickle=False)}
        else:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
    except Exception as error:
        raise InvalidInput(f"cannot be read as NumPy data ({type(error).__name__}: {error})") from error
    return Sample(arrays=arrays, attrs=attrs)


def npz_items(
    src_dir: str | Path, metadata_csv: str | Path | None = None, array_name: str = "data"
) -> list[CurationItem]:
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise HFMError(f"{src_dir}: not a folder")
    rows: dict[str, dict] = {}
    if metadata_csv is not None:
        check_utf8_text(metadata_csv)
        table = pd.read_csv(metadata_csv, dtype={"key": str})
        if "key" not in table.columns:
            raise HFMError(f"{metadata_csv}: needs a 'key' column matching the file names without suffix")
        rows = {
            str(r["key"]): {k: v for k, v in r.items() if k != "key" and pd.notna(v)} for r in table.to_dict("records")
        }
    items = []
    for entry in list_inputs(src_dir, SUFFIXES):
        path = entry.path
        if entry.ok:
            items.append(
                CurationItem(
                    key=path.stem, sources=[path], load=partial(_load, path, rows.get(path.stem, {}), array_name)
                )
            )
        else:  # counted as an input and quarantined unread, keyed by its whole name (stems may repeat)
            items.append(rejected_item(path.name, path, entry.code or "unreadable", entry.reason))
    return items
