"""The final merge of a sharded curation: one summary over all shards, statistics added exactly in shard order.

Only the small shard manifests are held at once; keys and quarantine records are streamed from the shards' sorted
files (a k-way merge), so the merge's memory does not grow with the number of items either.
"""

from __future__ import annotations

import heapq
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from hfm.shared.contracts import SampleContract
from hfm.shared.curation import MANIFEST, CurationSummary, QuarantineRecord, RunningStats, write_quarantine_report
from hfm.shared.errors import HFMError
from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.shard_layout import (
    SHARD_KEYS,
    SHARD_MANIFEST,
    SHARD_QUARANTINE,
    SHARDS,
    read_shard_manifest,
    shard_index,
    shard_name,
)

QUARANTINE_REPORT = "quarantine/report.csv"


class ShardedCurationSummary(CurationSummary):
    """A sharded curation's summary: `files` are the shard manifests (each lists its files with checksums) and
    the quarantine records are in `quarantine_report` only (never all in memory or in this file)."""

    shard_size: int
    shards: int
    quarantine_report: str = QUARANTINE_REPORT


def _lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as handle:
        yield from handle


def _records(path: Path) -> Iterator[QuarantineRecord]:
    for line in _lines(path):
        yield QuarantineRecord.model_validate_json(line)


def _check_keys(folders: list[Path]) -> None:
    """Two shards claiming the same file name would make one dataset with two samples of one name: refuse."""
    streams = [((*json.loads(line), f.name) for line in _lines(f / SHARD_KEYS)) for f in folders]
    previous: tuple[str, str, str] | None = None
    for name, key, shard in heapq.merge(*streams):
        if previous is not None and previous[0] == name:
            raise HFMError(
                f"key {key!r} ({shard}) and key {previous[1]!r} ({previous[2]}) both become the file name {name!r}; "
                "keys must be unique in a dataset: fix the reader's keys and curate again"
            )
        previous = (name, key, shard)


def _remove_leftovers(shards: Path, count: int) -> None:
    """Shards beyond the last (the items were more in an earlier run) and temporaries of killed workers."""
    for path in shards.iterdir():
        index = shard_index(path.name)
        if path.is_dir() and (index is None or index >= count):
            shutil.rmtree(path)
        elif path.is_file() and path.name.endswith(".lock"):
            path.unlink()


def merge_shards(root: Path, count: int, contract: SampleContract, shard_size: int) -> ShardedCurationSummary:
    """Check all `count` shards are finished, merge them, write `curation.json` and the quarantine report."""
    shards = root / SHARDS
    folders = [shards / shard_name(i) for i in range(count)]
    missing = [f.name for f in folders if not (f / SHARD_MANIFEST).exists()]
    if missing:
        raise HFMError(
            f"{root}: {len(missing)} of {count} shards not finished ({', '.join(missing[:3])}…); "
            "run the curate command again (without --part) to curate them"
        )
    if shards.is_dir():
        _remove_leftovers(shards, count)
    stats: dict[str, RunningStats] = {spec.name: RunningStats() for spec in contract.arrays}
    reasons: Counter[str] = Counter()
    splits: Counter[str] = Counter()
    inputs = written = quarantined = 0
    for folder in folders:
        manifest = read_shard_manifest(folder)
        inputs, written, quarantined = (
            inputs + manifest.inputs,
            written + manifest.written,
            quarantined + manifest.quarantined,
        )
        reasons.update(manifest.reasons)
        splits.update(manifest.splits)
        for part in manifest.statistics:
            stats.setdefault(part.name, RunningStats()).merge(part)
    _check_keys(folders)
    write_quarantine_report(root, heapq.merge(*(_records(f / SHARD_QUARANTINE) for f in folders), key=lambda r: r.key))
    summary = ShardedCurationSummary(
        inputs=inputs,
        written=written,
        quarantined=quarantined,
        reasons=dict(sorted(reasons.items())),
        splits=dict(sorted(splits.items())),
        files=[f"{SHARDS}/{f.name}/{SHARD_MANIFEST}" for f in folders],
        statistics=[s.result(name) for name, s in stats.items()],
        quarantine=[],
        shard_size=shard_size,
        shards=count,
    )
    write_atomic(root / MANIFEST, dump_json(summary.model_dump(mode="json")))
    return summary
