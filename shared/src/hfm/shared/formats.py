"""AI-ready dataset formats: how the core reads a curated dataset back to check it against its card.

The core ships `hfm-arrays`; each domain registers its community format (SeisBench HDF5, nnU-Net raw, CF zarr,
EcoTaxa TSV) through its plugin, so `hfm card validate` can re-check any installed domain's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pandas as pd

from hfm.shared.contracts import Sample


class SampleWriter(Protocol):
    """Writes validated samples into a dataset folder; `close` returns the data files it wrote (relative paths)."""

    format_name: str

    def open(self, root: Path) -> None: ...

    def write(self, key: str, sample: Sample) -> None: ...

    def close(self) -> list[str]: ...


class DatasetFormat(Protocol):
    """Reads a curated dataset folder back."""

    name: str

    def count(self, root: Path) -> int: ...

    def iter_samples(self, root: Path) -> Iterator[tuple[str, Sample]]: ...

    def metadata(self, root: Path) -> pd.DataFrame | None: ...
