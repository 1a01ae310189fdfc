"""Where catalogued data lie: the offline mirror first, then the fetch cache.

- Mirror: `$HFM_SHARED_DATA`, else `../shared/data` beside a checkout (found from the working folder or from this
  installed package, so an editable install finds it from any folder). Read in place, never written.
- Cache: `$HFM_DATA`, else `data/` in the user's cache folder (pooch.os_cache("hfm")): `hfm data fetch` writes there,
  in the mirror's layout, so one relative path ("seismic/dfdp-eqcorrscan/REA/TEST_") works in both.
"""

from __future__ import annotations

import os
from pathlib import Path

from hfm.shared.catalogue.entries import DataFile, DataSet, load_catalogue
from hfm.shared.errors import HFMError

MIRROR_VARIABLE = "HFM_SHARED_DATA"
CACHE_VARIABLE = "HFM_DATA"


class DataUnavailable(HFMError):
    """A reference data set is neither in the offline mirror nor in the local cache; the message says how to get it."""


def _beside_checkout(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "noxfile.py").exists():
            candidate = folder.parent / "shared" / "data"
            return candidate if candidate.is_dir() else None
    return None


def mirror_dir(start: str | Path | None = None) -> Path | None:
    """The offline mirror, or None. `$HFM_SHARED_DATA` wins when set (None if it is no folder)."""
    if env := os.environ.get(MIRROR_VARIABLE):
        path = Path(env).expanduser()
        return path if path.is_dir() else None
    for origin in (Path(start or Path.cwd()).resolve(), Path(__file__).resolve()):
        if found := _beside_checkout(origin):
            return found
    return None


def cache_dir() -> Path:
    """Where `hfm data fetch` puts files (created on first fetch)."""
    if env := os.environ.get(CACHE_VARIABLE):
        return Path(env).expanduser()
    import pooch  # imported here: only fetching and the cache default need it

    return Path(pooch.os_cache("hfm")) / "data"


def in_cache(data_file: DataFile, cache: Path) -> bool:
    """A complete cached copy: present with the catalogued size (`hfm data verify` checks the sha256)."""
    target = cache / data_file.path
    return target.is_file() and target.stat().st_size == data_file.size


def fetch_command(datasets: list[DataSet] | set[str]) -> str:
    names = sorted({d if isinstance(d, str) else d.name for d in datasets})
    return f"`hfm data fetch {' '.join(names)}`"


def locate(relative: str, start: str | Path | None = None) -> Path:
    """The file or folder `relative` (a path inside the mirror) in the mirror, else in the cache, else
    DataUnavailable naming the fetch command. A folder in the cache counts only once every catalogued file
    below it is there, so a half-finished fetch is never read as a data set."""
    relative = relative.strip("/")
    mirror = mirror_dir(start)
    if mirror is not None and (mirror / relative).exists():
        return mirror / relative
    catalogued = load_catalogue().files_under(relative)
    if not catalogued:
        where = f"the mirror {mirror}" if mirror else f"any mirror (set {MIRROR_VARIABLE})"
        raise DataUnavailable(f"reference data {relative!r} is not in the data catalogue nor in {where}")
    cache = cache_dir()
    missing = {dataset.name for dataset, data_file in catalogued if not in_cache(data_file, cache)}
    if not missing:
        return cache / relative
    raise DataUnavailable(
        f"reference data {relative!r} is not available here: run {fetch_command(missing)} "
        f"(or set {MIRROR_VARIABLE} to a mirror)"
    )


def data_root(start: str | Path | None = None) -> Path | None:
    """The mirror, else the cache when it holds fetched data, else None (for code that joins paths itself)."""
    mirror = mirror_dir(start)
    if mirror is not None:
        return mirror
    cache = cache_dir()
    return cache if cache.is_dir() and any(cache.iterdir()) else None
