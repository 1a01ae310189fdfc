"""The curation workers (issue 18): forked once per run, every shard taken once, nothing listed in the driver."""

from __future__ import annotations

import inspect
import os
import time
from pathlib import Path

import pytest

from hfm.shared.errors import HFMError
from hfm.shared.shard_workers import ShardClaims, ShardSource, run_shards


def record_to(folder: Path):
    """A task that leaves one file per shard: its items and the process that curated it."""

    def task(index: int, batch: list[int]) -> None:
        (folder / f"{index:03d}").write_text(f"{os.getpid()} {' '.join(map(str, batch))}")

    return task


def recorded(folder: Path) -> dict[int, tuple[int, list[int]]]:
    found = {}
    for path in sorted(folder.iterdir()):
        pid, *items = path.read_text().split()
        found[int(path.name)] = (int(pid), [int(i) for i in items])
    return found


@pytest.mark.parametrize("make", [list, iter], ids=["sequence", "iterator"])
def test_a_source_cuts_shards_by_position_and_skips_others(make):
    source = ShardSource(make(range(23)), 5)
    assert source.shard(1) == [5, 6, 7, 8, 9]  # shard 0 skipped, as another worker's
    assert source.shard(4) == [20, 21, 22]
    assert source.shard(5) == []
    assert source.shards() == 5


def test_an_iterator_source_refuses_to_go_back():
    source = ShardSource(iter(range(10)), 3)
    source.shard(2)
    with pytest.raises(HFMError, match="shard-000001: asked for after a later shard"):
        source.shard(1)


def test_claims_of_a_part_are_its_indices_in_order():
    claims = ShardClaims(shared=True, part_index=1, part_count=3)
    assert [claims.take() for _ in range(4)] == [1, 4, 7, 10]


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_every_shard_is_curated_once_by_at_most_workers_processes(tmp_path, workers):
    items = (i for i in range(47))  # a generator: each forked worker lists it from the start
    done: list[int] = []
    count = run_shards(items, 4, record_to(tmp_path), workers=workers, done=done.append)
    shards = recorded(tmp_path)
    assert count == 12
    assert sorted(shards) == list(range(12))
    assert [i for _, batch in shards.values() for i in batch] == list(range(47))
    assert sorted(done) == [3] + [4] * 11
    pids = {pid for pid, _ in shards.values()}
    assert len(pids) <= workers  # one fork per worker and run, not one per shard
    assert (os.getpid() in pids) == (workers == 1)
    if workers > 1:  # the driver never listed an item: only the workers did
        assert inspect.getgeneratorstate(items) == inspect.GEN_CREATED


def test_a_part_curates_only_its_shards(tmp_path):
    count = run_shards(list(range(20)), 3, record_to(tmp_path), workers=2, part=(1, 2))
    assert count == 7
    assert {i: batch for i, (_, batch) in recorded(tmp_path).items()} == {
        1: [3, 4, 5],
        3: [9, 10, 11],
        5: [15, 16, 17],
    }


def test_a_worker_error_names_its_shard_and_stops_the_run(tmp_path):
    def task(index: int, batch: list[int]) -> None:
        if index == 2:
            raise ValueError("damaged input")
        time.sleep(0.05)  # the others take long enough for the driver to stop them
        (tmp_path / f"{index}").touch()

    with pytest.raises(HFMError, match=r"curation of shard-000002 failed: ValueError: damaged input"):
        run_shards(list(range(40)), 2, task, workers=2)
    assert len(list(tmp_path.iterdir())) < 20  # the other worker stopped too


def test_no_items_make_no_shards(tmp_path):
    assert run_shards(iter([]), 5, record_to(tmp_path), workers=2) == 0
    assert run_shards([], 5, record_to(tmp_path), workers=1) == 0
    assert list(tmp_path.iterdir()) == []
