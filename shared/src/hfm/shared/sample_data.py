"""Where the real reference data lies: `../shared/data` beside a checkout, or `$HFM_SHARED_DATA`.

Tests and benchmarks read it in place (never copied into the project) and skip with a reason where it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

from hfm.shared.errors import HFMError


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


class DataUnavailable(HFMError):
    """A reference data set is neither in the offline mirror nor in the local cache; the message says how to get it."""


def require_data(relative: str) -> Path:
    """The file or folder `relative` (a path inside the mirror, e.g. "seismic/dfdp-eqcorrscan") or DataUnavailable.

    This is the one way domain code reaches external reference data: callers never build `../shared/data` paths
    themselves, so where the data comes from (mirror, fetch cache) is decided here alone.
    """
    root = shared_data_dir()
    if root is not None and (root / relative).exists():
        return root / relative
    raise DataUnavailable(f"reference data {relative!r} is not available here (set HFM_SHARED_DATA to a mirror)")
