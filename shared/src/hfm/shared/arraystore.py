"""`hfm-arrays`: the core's own AI-ready format for data with no community format.

Layout (relative to the dataset folder):

| path | content |
|---|---|
| `samples/<key>.safetensors` | the sample's arrays; `units.<array>` in the safetensors metadata for each (`""`: none) |
| `metadata.csv` | one row per sample, sorted by `key`; the sample's attributes as columns |

safetensors is chosen because it cannot run code when read and writes the same bytes for the same arrays, which
keeps re-curation byte-identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from safetensors import safe_open
from safetensors.numpy import load_file, save

from hfm.shared.contracts import Sample
from hfm.shared.errors import HFMError
from hfm.shared.safetensors_header import sorted_metadata
from hfm.shared.safety.keys import safe_key  # the one sanitiser; curation refuses keys that collide under it
from hfm.shared.shard_layout import require_complete

FORMAT_NAME = "hfm-arrays"
__all__ = ["FORMAT_NAME", "ArrayStoreFormat", "ArrayStoreWriter", "safe_key"]


class ArrayStoreWriter:
    format_name = FORMAT_NAME

    def __init__(self) -> None:
        self._root: Path | None = None
        self._rows: list[dict[str, Any]] = []

    def open(self, root: Path) -> None:
        self._root = root
        (root / "samples").mkdir(parents=True, exist_ok=True)
        self._rows = []

    def write(self, key: str, sample: Sample) -> None:
        assert self._root is not None, "open() first"
        name = safe_key(key)
        # every array carries its units; "" where neither the reader nor the contract declares any
        metadata = {f"units.{k}": sample.units.get(k, "") for k in sorted(sample.arrays)}
        arrays = {k: np.ascontiguousarray(v) for k, v in sample.arrays.items()}
        data = sorted_metadata(save(arrays, metadata=metadata or None))  # same bytes on every re-curation
        (self._root / "samples" / f"{name}.safetensors").write_bytes(data)
        self._rows.append({"key": name, **sample.attrs})

    def close(self) -> list[str]:
        assert self._root is not None, "open() first"
        files = sorted(f"samples/{row['key']}.safetensors" for row in self._rows)
        table = pd.DataFrame(self._rows or [{"key": None}]).iloc[: len(self._rows)]
        table = table.sort_values("key").reset_index(drop=True)
        table.to_csv(self._root / "metadata.csv", index=False, lineterminator="\n")
        return ["metadata.csv", *files]


class ArrayStoreFormat:
    name = FORMAT_NAME

    def metadata(self, root: Path) -> pd.DataFrame | None:
        require_complete(root)
        path = root / "metadata.csv"
        if not path.exists():
            raise HFMError(f"{path}: missing; an {FORMAT_NAME} dataset needs its metadata table")
        return pd.read_csv(path)

    def count(self, root: Path) -> int:
        return len(list((root / "samples").glob("*.safetensors")))

    def iter_samples(self, root: Path) -> Iterator[tuple[str, Sample]]:
        require_complete(root)
        for path in sorted((root / "samples").glob("*.safetensors")):
            try:
                arrays = load_file(str(path))
                with safe_open(str(path), framework="numpy") as handle:
                    meta = handle.metadata() or {}
            except Exception as error:  # safetensors raises several types for damaged files
                raise HFMError(f"{path}: cannot be read as safetensors ({error})") from error
            units = {k.removeprefix("units."): v for k, v in meta.items() if k.startswith("units.")}
            yield path.stem, Sample(arrays=arrays, units=units)
