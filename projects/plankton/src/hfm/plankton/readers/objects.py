"""`PlanktonObjects`: a table in the harmonised standard together with the store its images come from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hfm.plankton.contract import conform
from hfm.plankton.readers.stores import ImageStore


@dataclass
class PlanktonObjects:
    table: pd.DataFrame  # standard columns first, then the source's own columns
    store: ImageStore
    origin: Path
    column_types: dict[str, str] = field(default_factory=dict)  # EcoTaxa "[t]"/"[f]" of the source's own columns

    def __post_init__(self) -> None:
        self.table = conform(self.table)

    def __len__(self) -> int:
        return len(self.table)

    def read_image(self, row: int) -> bytes:
        return self.store.read(self.table.at[row, "image_path"])
