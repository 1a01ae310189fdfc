"""Raw files of the community -> arrays. Here: one `.npy` 1-D signal per file, one folder per class.

A reader says what is wrong with a file in one line (file, field, reason) by raising `InvalidInput`; the curation
driver turns that into a quarantine record instead of stopping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hfm.shared.errors import InvalidInput

SUFFIXES = (".npy",)


@dataclass(frozen=True)
class RawSignal:
    key: str  # "<class>/<file stem>": unique within the raw folder
    path: Path
    label: str


def list_raw(folder: Path) -> Iterator[RawSignal]:
    """Every file under `folder/<class>/`, sorted, so keys and outputs do not depend on the file system's order."""
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        relative = path.relative_to(folder)
        label = relative.parts[0] if len(relative.parts) > 1 else ""
        yield RawSignal(key=str(relative.with_suffix("")), path=path, label=label)


def read_signal(path: Path) -> np.ndarray:
    """A float32 (1, T) signal; anything else is an `InvalidInput` naming the reason."""
    if path.suffix not in SUFFIXES:
        raise InvalidInput(f"{path.name}: unsupported format {path.suffix!r} (expected .npy)", code="format")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as error:
        raise InvalidInput(f"{path.name}: not a NumPy array file ({error})") from None
    if array.ndim != 1:
        raise InvalidInput(f"{path.name}: expected a 1-D signal, got shape {array.shape}", field="signal", code="shape")
    return array.astype(np.float32)[None, :]
