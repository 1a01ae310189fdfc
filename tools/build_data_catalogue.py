"""(Re)build the data catalogue's file list from a mirror: `python tools/build_data_catalogue.py [MIRROR]`.

Reads the hand-written catalogue (`shared/src/hfm/shared/catalogue/datasets.yaml`: names, licences, citations, and
the origin of files no MANIFEST.tsv lists) and every `MIRROR/*/MANIFEST.tsv` (staged_path, repo, commit,
source_path, bytes), hashes each file in the mirror and writes `files.json` beside the YAML: per data set, every file
with its path inside the mirror, size, sha256 and origin URL (raw.githubusercontent.com at the pinned commit).

Fails, naming the file, where a mirror file's size differs from its MANIFEST row, where a catalogued file is
missing from the mirror, or where a mirror file belongs to no data set (so nothing in the mirror goes unlisted).
MIRROR defaults to $HFM_SHARED_DATA, else ../shared/data beside this checkout. `--markdown` prints the catalogue's
tables for docs/data.md instead.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import yaml

from hfm.shared.catalogue.locations import mirror_dir
from hfm.shared.hashing import sha256_file

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE_DIR = ROOT / "shared" / "src" / "hfm" / "shared" / "catalogue"
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{source}"
# Mirror files that are not data: its own documentation, the manifests, and indexes cfgrib derives from GRIB files.
NOT_DATA = ("README.md", "MANIFEST.tsv", ".idx")


def origin_url(repo: str, commit: str, source: str) -> str:
    """The file's raw URL at the pinned commit; "" for a file the mirror derived itself (source "DERIVED...")."""
    if source.startswith("DERIVED"):
        return ""
    # A fork is written "owner/name (fork of ...)" in the MANIFEST: the files come from the fork at that commit.
    return RAW_URL.format(repo=repo.split()[0], commit=commit, source=source)


def manifest_rows(mirror: Path) -> dict[str, dict[str, str]]:
    rows: dict[str, dict[str, str]] = {}
    for manifest in sorted(mirror.glob("*/MANIFEST.tsv")):
        with manifest.open(newline="") as stream:
            for line, row in enumerate(csv.DictReader(stream, delimiter="\t"), start=2):
                missing = [key for key in ("staged_path", "repo", "commit", "source_path", "bytes") if not row.get(key)]
                if missing:
                    raise SystemExit(f"{manifest}:{line}: missing {', '.join(missing)}")
                rows[row["staged_path"]] = row
    return rows


def build(mirror: Path) -> dict:
    spec = yaml.safe_load((CATALOGUE_DIR / "datasets.yaml").read_text())
    rows = manifest_rows(mirror)
    problems: list[str] = []
    claimed: set[str] = set()
    datasets: dict[str, list[list]] = {}
    for entry in spec["datasets"]:
        name = entry["name"]
        wanted: dict[str, tuple[str, int | None]] = {}
        for path, row in rows.items():
            if path.startswith(name + "/"):
                wanted[path] = (origin_url(row["repo"], row["commit"], row["source_path"]), int(row["bytes"]))
        folder = entry.get("folder", name)
        for origin in entry.get("origins", []):
            url = origin_url(origin["repo"], origin["commit"], origin["source"])
            wanted[f"{folder}/{origin['path']}"] = (url, None)
        if not wanted:
            problems.append(f"{name}: no file in any MANIFEST.tsv and no origins")
        files = []
        for path in sorted(wanted):
            url, size = wanted[path]
            local = mirror / path
            if not local.is_file():
                problems.append(f"{local}: listed but absent from the mirror")
                continue
            actual = local.stat().st_size
            if size is not None and actual != size:
                problems.append(f"{local}: {actual} bytes, MANIFEST.tsv says {size}")
            files.append([path, actual, sha256_file(local), url])
            claimed.add(path)
        datasets[name] = files
    for local in sorted(p for p in mirror.rglob("*") if p.is_file()):
        path = local.relative_to(mirror).as_posix()
        if path not in claimed and not path.endswith(NOT_DATA):
            problems.append(f"{local}: in the mirror but in no catalogue data set (add it to datasets.yaml)")
    if problems:
        raise SystemExit("catalogue not written:\n  " + "\n  ".join(problems))
    return {"format": 1, "datasets": datasets}


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def markdown() -> str:
    """The catalogue as the tables of docs/data.md (`--markdown`): every entry with licence, citation and use."""
    spec = yaml.safe_load((CATALOGUE_DIR / "datasets.yaml").read_text())
    listed = json.loads((CATALOGUE_DIR / "files.json").read_text())["datasets"]
    lines = ["| name | what | files | size | licence | citation | used for |", "|---|---|---|---|---|---|---|"]
    for entry in spec["datasets"]:
        files = listed[entry["name"]]
        size = sum(row[1] for row in files)
        doi = f" [doi:{entry['doi']}](https://doi.org/{entry['doi']})" if entry.get("doi") else ""
        cells = [f"`{entry['name']}`", entry["title"], str(len(files)), _size(size), entry["licence"]]
        lines.append("| " + " | ".join([*cells, entry["citation"] + doi, entry["use"]]) + " |")
    lines += ["", "| name | what | install | licence | citation | used for |", "|---|---|---|---|---|---|"]
    for entry in spec["packaged"]:
        cells = [f"`{entry['name']}`", entry["title"], f"`{entry['install']}`", entry["licence"], entry["citation"]]
        lines.append("| " + " | ".join([*cells, entry["use"]]) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    if argv == ["--markdown"]:
        print(markdown(), end="")
        return
    mirror = Path(argv[0]) if argv else mirror_dir(ROOT)
    if mirror is None or not mirror.is_dir():
        raise SystemExit(f"{mirror}: no such mirror folder")
    catalogue = build(mirror)
    out = CATALOGUE_DIR / "files.json"
    # One file per line: compact, yet a diff shows which files changed.
    lines = [
        f"{json.dumps(name)}: [\n" + ",\n".join(json.dumps(row) for row in files) + "\n]"
        for name, files in catalogue["datasets"].items()
    ]
    out.write_text('{"format": 1, "datasets": {\n' + ",\n".join(lines) + "\n}}\n")
    total = sum(len(files) for files in catalogue["datasets"].values())
    print(f"{out}: {len(catalogue['datasets'])} data sets, {total} files")


if __name__ == "__main__":
    main(sys.argv[1:])
