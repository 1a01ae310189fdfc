"""Where the real reference data lies: `../shared/data` beside a checkout, or `$HFM_SHARED_DATA`.

Tests and benchmarks read it in place (never copied into the project) and skip with a reason where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path


def shared_data_dir(start: str | Path | None = None) -> Path | None:
    """The shared data folder, or None when neither the variable nor a checkout's neighbour provides one."""
    if env := os.environ.get("HFM_SHARED_DATA"):
        path = Path(env)
        return path if path.is_dir() else None
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "noxfile.py").exists():
            candidate = folder.parent / "shared" / "data"
            return candidate if candidate.is_dir() else None
    return None
