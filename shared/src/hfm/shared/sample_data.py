"""The one entry to external reference data, through the data catalogue (`hfm.shared.catalogue`).

Data are read in place from the offline mirror (`$HFM_SHARED_DATA`, or `../shared/data` beside a checkout), else
from the cache that `hfm data fetch NAME` fills (`$HFM_DATA`); never copied into the project. Where neither holds
them, `DataUnavailable` says which `hfm data fetch` command gets them; tests skip with that message.
"""

from __future__ import annotations

from pathlib import Path

from hfm.shared.catalogue.locations import DataUnavailable, data_root, locate

__all__ = ["DataUnavailable", "require_data", "shared_data_dir"]


def shared_data_dir(start: str | Path | None = None) -> Path | None:
    """The folder that holds reference data in the mirror's layout: the mirror, else the fetch cache when it holds
    fetched data, else None. Prefer `require_data`, which checks that the data set asked for is complete."""
    return data_root(start)


def require_data(relative: str) -> Path:
    """The file or folder `relative` (a path inside the mirror, e.g. "seismic/dfdp-eqcorrscan") or DataUnavailable.

    This is the one way domain code reaches external reference data: callers never build mirror paths themselves,
    so where the data come from (mirror, fetch cache) is decided here alone. The error names the fetch command.
    """
    return locate(relative)
