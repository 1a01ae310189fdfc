"""Curating one input twice, whole and in shards, through a domain's own `curate` command: the pair the sharded
read-back and streaming tests compare (a reader or a training stream must make the same of both); the check that a
domain's one-folder reader names a sharded dataset as such; the check that one sharded curation by one worker and
by two is the same bytes; and the check that one part of a sharded run (a SLURM
array task) is no dataset until the run without a part merges it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from hfm.shared.errors import HFMError
from hfm.shared.formats import DatasetFormat
from hfm.shared.shard_curation import Sharding
from hfm.shared.shard_view import readable_format
from hfm.shared.testing.kill_resume import tree_bytes, tree_differences


def curate_whole_and_sharded(app: typer.Typer, args: list[str], root: Path, shard_size: int) -> tuple[Path, Path]:
    """Run `curate ARGS` of the domain's `app` quietly into `root/whole` (unsharded) and `root/sharded` (shards of
    `shard_size`); the two folders. A failed run raises with the command's output."""
    for name, size in (("whole", 0), ("sharded", shard_size)):
        argv = ["curate", *args, "--out", str(root / name), "--quiet", "--shard-size", str(size)]
        result = CliRunner().invoke(app, argv, catch_exceptions=False)
        if result.exit_code != 0:
            raise AssertionError(f"curate {' '.join(argv)} exited {result.exit_code}: {result.output}")
    return root / "whole", root / "sharded"


def check_reader_names_sharded(root: Path, reader: Callable[[Path], Any]) -> list[str]:
    """A domain's one-folder `reader` on the sharded dataset `root`: refused, saying that it is sharded and how to
    read it whole (`readable_format`), as `hfm.shared.shard_view.refuse_sharded` says it. The problems found."""
    try:
        reader(root)
    except HFMError as error:
        if "a sharded dataset (" in str(error) and "readable_format" in str(error):
            return []
        return [f"the reader refused {root} without naming it sharded and readable_format: {error}"]
    return [f"the reader read the sharded dataset {root} as one folder"]


def check_sharded_runs(
    by_one_worker: Path, by_two_workers: Path, reader: Callable[[Path], Any], *, min_files: int = 20
) -> list[str]:
    """The same sharded curation run by one worker and by two: the same bytes, file by file (results must not depend
    on the number of workers), more than `min_files` files of them (so two empty runs do not pass), and the domain's
    one-folder `reader` refusing it as sharded (`check_reader_names_sharded`). The problems found (empty: passed)."""
    files = len(tree_bytes(by_one_worker))
    problems = [] if files > min_files else [f"{by_one_worker} holds {files} files, fewer than {min_files + 1}"]
    differences = tree_differences(by_one_worker, by_two_workers)
    problems += [f"one worker and two workers wrote different bytes: {name}" for name in differences]
    return problems + check_reader_names_sharded(by_two_workers, reader)


def check_part_then_merge(
    curate: Callable[[Sharding], Any],
    out: Path,
    part: Sharding,
    whole: Sharding,
    *,
    finished: int,
    fmt: DatasetFormat,
    reader: Callable[[Path], Any],
    expected: Path,
) -> list[str]:
    """`curate(sharding)` curates into `out`: first `part` of a sharded run, which must write no card and leave only
    its staging folder beside `out`, with `finished` shards, refused as an incomplete dataset by `readable_format`
    and by the domain's own one-folder `reader`; then the run without a part (`whole`), which must merge it into the
    bytes of `expected` (the same curation in one go). The problems found (empty: passed)."""
    problems = []
    if curate(part).card is not None:
        problems.append("one part wrote a card: only the run without a part merges and writes it")
    staging = next(out.parent.glob(f".{out.name}*"), None)
    if staging is None:
        problems.append(f"one part left no staging folder beside {out}")
    else:
        refusal = f"incomplete dataset ({finished} shard(s) finished"
        for name, read in (("readable_format", lambda root: readable_format(root, fmt)), ("the reader", reader)):
            try:
                read(staging)
                problems.append(f"{name} read one part's staging folder as a dataset")
            except HFMError as error:
                if refusal not in str(error):
                    problems.append(f"{name} refused one part's staging folder without saying {refusal!r}: {error}")
    curate(whole)
    problems += [f"differs from the curation in one go: {name}" for name in tree_differences(expected, out)]
    return problems
