"""Streaming shards into training (issue 18): split over ranks and workers, resumed at the exact batch."""

from __future__ import annotations

import pytest

from hfm.shared.arraystore import ArrayStoreFormat
from hfm.shared.errors import HFMError
from hfm.shared.shard_loader import ShardLoader, ShardStream, batches_per_worker


def keys(loader: ShardLoader, limit: int | None = None) -> list[str]:
    seen = []
    for batch in loader:
        seen += batch["key"]
        if limit is not None and loader.batches == limit:
            break
    return seen


def test_the_turn_taking_of_workers_is_counted_exactly():
    assert batches_per_worker([10, 3, 7], batch_size=2, consumed=0) == ([0, 0, 0], 0)
    assert batches_per_worker([10, 3, 7], batch_size=2, consumed=4) == ([2, 1, 1], 1)
    assert batches_per_worker([10, 3, 7], batch_size=2, consumed=7) == ([3, 2, 2], 1)  # worker 1 has only 2
    assert batches_per_worker([10, 3, 7], batch_size=2, consumed=11) == ([5, 2, 4], 1)
    with pytest.raises(HFMError, match="only 11"):
        batches_per_worker([10, 3, 7], batch_size=2, consumed=12)


def test_ranks_split_the_shards_and_together_see_every_sample_once(sharded_arrays):
    per_rank = [
        keys(ShardLoader(ShardStream(sharded_arrays, ArrayStoreFormat(), rank=r, world_size=3), 4)) for r in range(3)
    ]
    everything = sorted(k for rank in per_rank for k in rank)
    assert len(everything) == len(set(everything)) == 62
    assert [len(rank) for rank in per_rank] == [24, 22, 16]  # shards 0,3,6 | 1,4,7 (of 6) | 2,5


@pytest.mark.parametrize("workers", [0, 2])
def test_a_resumed_loader_continues_with_the_very_next_batch(sharded_arrays, workers):
    def loader() -> ShardLoader:
        return ShardLoader(ShardStream(sharded_arrays, ArrayStoreFormat(), seed=3), batch_size=5, num_workers=workers)

    whole = loader()
    uninterrupted = keys(whole) + keys(whole)  # two epochs: the shard order changes with the epoch
    assert len(uninterrupted) == 124 and uninterrupted[:62] != uninterrupted[62:]
    for stop in (1, 4, 9, 14):
        first = loader()
        seen = keys(first, limit=stop) if stop < 14 else keys(first) + keys(first, limit=stop - 12)
        resumed = loader()
        resumed.load_state_dict(first.state_dict())
        rest = keys(resumed) + (keys(resumed) if resumed.state_dict()["epoch"] == 1 else [])
        assert seen + rest == uninterrupted, f"stopped after {stop} batches"


def test_an_unsharded_or_unfinished_dataset_is_refused(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(HFMError, match="not a sharded dataset"):
        ShardStream(tmp_path / "plain", ArrayStoreFormat())
    (tmp_path / "plain" / ".hfm-incomplete").touch()
    with pytest.raises(HFMError, match="incomplete dataset"):
        ShardStream(tmp_path / "plain", ArrayStoreFormat())


def test_drop_last_counts_only_whole_batches_and_the_buffer_shuffles_within_shards(sharded_arrays):
    assert batches_per_worker([10, 3, 7], batch_size=2, consumed=9, drop_last=True) == ([5, 1, 3], 1)
    with pytest.raises(HFMError, match="only 9"):
        batches_per_worker([10, 3, 7], batch_size=2, consumed=10, drop_last=True)
    loader = ShardLoader(ShardStream(sharded_arrays, ArrayStoreFormat(), seed=1), batch_size=5, drop_last=True)
    assert loader.batches_in_epoch(0) == 12 and len(keys(loader)) == 60  # 62 items, the last 2 dropped
    plain = keys(ShardLoader(ShardStream(sharded_arrays, ArrayStoreFormat(), seed=1), batch_size=8))
    buffered = keys(ShardLoader(ShardStream(sharded_arrays, ArrayStoreFormat(), seed=1, shuffle_buffer=4), 8))
    assert buffered != plain and sorted(buffered) == sorted(plain)
    shards = [plain[i : i + 8] for i in range(0, 56, 8)]  # the same shard order: each shard's keys stay together
    assert [sorted(buffered[i : i + 8]) for i in range(0, 56, 8)] == [sorted(s) for s in shards]
