"""Curation input for plain NumPy files: a folder of `.npz` (named arrays) or `.npy` files, plus an optional CSV.

The generic path for data that has no domain reader: the CSV row whose `key` equals the file's stem becomes the
sample's metadata. Files are read with `allow_pickle=False`, so a crafted file cannot run code.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from hfm.shared.contracts import Sample, SampleContract, TableContract
from hfm.shared.curation import CurationItem
from hfm.shared.errors import HFMError, InvalidInput


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
        table = pd.read_csv(metadata_csv)
        if "key" not in table.columns:
            raise HFMError(f"{metadata_csv}: needs a 'key' column matching the file names without suffix")
        rows = {
            str(r["key"]): {k: v for k, v in r.items() if k != "key" and pd.notna(v)} for r in table.to_dict("records")
        }
    files = sorted(p for p in src_dir.iterdir() if p.suffix in {".npz", ".npy"})
    return [
        CurationItem(key=p.stem, sources=[p], load=partial(_load, p, rows.get(p.stem, {}), array_name)) for p in files
    ]
