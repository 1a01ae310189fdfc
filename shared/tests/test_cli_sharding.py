"""The shared curate options: --shard-size/--workers/--part as one Sharding, and the line curate prints."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from hfm.shared.cli.options import curation_line, sharding
from hfm.shared.shard_curation import Sharding, ShardPart


def test_zero_shards_means_unsharded_and_workers_default_to_the_allowed_cpus():
    assert sharding(0, None, None) == Sharding(shard_size=None, workers=len(os.sched_getaffinity(0)), part=None)
    assert sharding(500, 3, "1/4") == Sharding(shard_size=500, workers=3, part=ShardPart.parse("1/4"))


def test_the_line_names_the_summary_or_the_finished_part():
    summary = SimpleNamespace(line=lambda: "10 inputs: 9 written, 1 quarantined")
    assert curation_line(Path("out"), summary, None) == "out: 10 inputs: 9 written, 1 quarantined"
    assert curation_line(Path("out"), None, "2/3") == "out: part 2/3 curated"
