"""Reading a sharded dataset through its domain's format: every shard is a small dataset of that format.

`readable_format(root, fmt)` is what readers call: it refuses an unfinished dataset and returns `fmt` itself for an
unsharded one, or a view that walks the shards in order, one at a time, for a sharded one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from hfm.shared.contracts import Sample, Violation
from hfm.shared.errors import HFMError
from hfm.shared.formats import DatasetFormat
from hfm.shared.hashing import sha256_file
from hfm.shared.shard_layout import finished_shards, is_sharded, read_shard_manifest, require_complete


class ShardedFormat:
    """A `DatasetFormat` over all shards of a sharded dataset, shard after shard."""

    def __init__(self, inner: DatasetFormat) -> None:
        self.inner = inner
        self.name = inner.name

    def count(self, root: Path) -> int:
        return sum(self.inner.count(shard) for shard in finished_shards(root))

    def iter_samples(self, root: Path) -> Iterator[tuple[str, Sample]]:
        for shard in finished_shards(root):
            yield from self.inner.iter_samples(shard)

    def metadata(self, root: Path) -> pd.DataFrame | None:
        tables = [self.inner.metadata(shard) for shard in finished_shards(root)]
        present = [t for t in tables if t is not None]
        return pd.concat(present, ignore_index=True) if present else None


def readable_format(root: str | Path, fmt: DatasetFormat) -> DatasetFormat:
    require_complete(root)
    return ShardedFormat(fmt) if is_sharded(root) else fmt


def refuse_sharded(root: str | Path, shard_kind: str, fmt_name: str) -> None:
    """For readers of one folder: an unfinished curation is refused as incomplete, and a sharded dataset is named as
    such with the way to read it (`shard_kind`: what each shard is; `fmt_name`: the format class to pass)."""
    require_complete(root)
    if is_sharded(root):
        raise HFMError(
            f"{root}: a sharded dataset ({len(finished_shards(root))} shards, each {shard_kind}); open one shard "
            f"folder, or read all through hfm.shared.shard_view.readable_format(root, {fmt_name}())"
        )


def shard_file_violations(root: str | Path) -> list[Violation]:
    """Every shard's files against the checksums in its manifest (the card checksums the manifests)."""
    violations: list[Violation] = []
    for shard in finished_shards(root):
        for entry in read_shard_manifest(shard).files:
            path = shard / entry.path
            field = f"{shard.name}/{entry.path}"
            if not path.exists():
                violations.append(Violation(field=field, code="missing", reason="listed in the shard but not found"))
            elif sha256_file(path) != entry.sha256:
                violations.append(
                    Violation(field=field, code="checksum", reason="sha256 differs from the shard's manifest")
                )
    return violations
