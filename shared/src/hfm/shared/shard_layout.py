"""The layout of a sharded dataset, and the one check that refuses a half-written one.

| path | content |
|---|---|
| `shards/shard-000000/` | one shard: what the domain's writer wrote for the shard's items, and `quarantine/files/` |
| `shards/shard-000000/shard.json` | the shard's manifest: item digest, counts, statistics partials, files with sha256 |
| `shards/shard-000000/keys.txt` | the shard's written keys as file names, case-folded and sorted (collision check) |
| `shards/shard-000000/quarantine.jsonl` | the shard's quarantine records, sorted by key |
| `quarantine/report.csv` | every shard's records in key order |
| `curation.json`, `card.json` | one summary and one card over all shards |
| `.hfm-incomplete` | present from the first shard until the card is written: the dataset is not finished |

A shard folder appears under its final name only when complete (written under a temporary name, then renamed),
so a kill leaves finished shards and at most one temporary folder per worker, which the next run deletes.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from hfm.shared.errors import HFMError

SHARDS = "shards"
SHARD_MANIFEST = "shard.json"
SHARD_KEYS = "keys.txt"
SHARD_QUARANTINE = "quarantine.jsonl"
INCOMPLETE = ".hfm-incomplete"


def shard_name(index: int) -> str:
    return f"shard-{index:06d}"


def shard_index(name: str) -> int | None:
    """The index of a finished shard's folder name; None for anything else (temporaries, lock files)."""
    stem = name.removeprefix("shard-")
    return int(stem) if stem != name and stem.isdigit() else None


class StatsPartial(BaseModel):
    """Sums of one array over one shard: partials add exactly in shard order (count, sums, min, max)."""

    name: str
    count: int
    nan_count: int
    total: float
    total_sq: float
    min: float | None
    max: float | None


class ShardFile(BaseModel):
    path: str  # relative to the shard folder
    sha256: str
    bytes: int


class ShardManifest(BaseModel):
    index: int
    items_digest: str  # sha256 over the shard's keys and sources: a shard of other items is redone
    inputs: int
    written: int
    quarantined: int
    reasons: dict[str, int]
    splits: dict[str, int]
    statistics: list[StatsPartial]
    files: list[ShardFile]
    sources: list[ShardFile]  # paths as given by the reader, with their checksums at curation time


def is_sharded(root: str | Path) -> bool:
    return (Path(root) / SHARDS).is_dir()


def read_shard_manifest(folder: Path) -> ShardManifest:
    path = folder / SHARD_MANIFEST
    try:  # pydantic's own JSON parser: a manifest lists every file of its shard, and the merge reads them all
        return ShardManifest.model_validate_json(path.read_bytes())
    except (OSError, ValueError) as error:
        raise HFMError(f"{path}: not a readable shard manifest ({error})") from error


def finished_shards(root: str | Path) -> list[Path]:
    """The complete shard folders of a dataset, in shard order."""
    folder = Path(root) / SHARDS
    if not folder.is_dir():
        return []
    found = [(shard_index(p.name), p) for p in folder.iterdir() if p.is_dir()]
    return [path for index, path in sorted((i, p) for i, p in found if i is not None)]


def require_complete(root: str | Path) -> None:
    """Refuse a dataset whose curation has not finished (killed, or still running, or an array part)."""
    root = Path(root)
    if (root / INCOMPLETE).exists():
        done = len(finished_shards(root))
        raise HFMError(
            f"{root}: incomplete dataset ({done} shard(s) finished, no final merge yet): its curation was "
            "interrupted or is still running; run the same curate command again to resume and finish it"
        )
