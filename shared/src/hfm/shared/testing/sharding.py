"""Curating one input twice, whole and in shards, through a domain's own `curate` command: the pair the sharded
read-back and streaming tests compare (a reader or a training stream must make the same of both)."""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner


def curate_whole_and_sharded(app: typer.Typer, args: list[str], root: Path, shard_size: int) -> tuple[Path, Path]:
    """Run `curate ARGS` of the domain's `app` quietly into `root/whole` (unsharded) and `root/sharded` (shards of
    `shard_size`); the two folders. A failed run raises with the command's output."""
    for name, size in (("whole", 0), ("sharded", shard_size)):
        argv = ["curate", *args, "--out", str(root / name), "--quiet", "--shard-size", str(size)]
        result = CliRunner().invoke(app, argv, catch_exceptions=False)
        if result.exit_code != 0:
            raise AssertionError(f"curate {' '.join(argv)} exited {result.exit_code}: {result.output}")
    return root / "whole", root / "sharded"
