"""Streaming shards into training (issue 18): split over ranks and workers, resumed at the exact batch."""

from __future__ import annotations

import numpy as np
import pytest

from hfm.shared.arraystore import ArrayStoreFormat, ArrayStoreWriter
from hfm.shared.contracts import ArraySpec, Sample, SampleContract
from hfm.shared.curate_driver import CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem
from hfm.shared.errors import HFMError
from hfm.shared.shard_curation import Sharding
from hfm.shared.shard_loader import ShardLoader, ShardStream, batches_per_worker


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """62 samples in 7 shards of 8 and one of 6: the workers' shares differ."""
    root = tmp_path_factory.mktemp("streamed") / "data"
    contract = SampleContract(name="t", arrays=[ArraySpec(name="x", dims=["t"], dtype="float32", shape=[2])])
    items = [
        CurationItem(f"s{i:03d}", [], lambda i=i: Sample(arrays={"x": np.full(2, i, np.float32)})) for i in range(62)
    ]
    describe, tool = DatasetDescription("streamed", "CC0-1.0", ["HFM"]), CurationTool("test", "hfm-shared")
    curate_dataset(
        items,
        root,
        domain="test",
        format="hfm-arrays",
        contract=contract,
        writer=ArrayStoreWriter(),
        describe=describe,
        tool=tool,
        show_progress=False,
        sharding=Sharding(shard_size=8),
    )
    return root


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


def test_ranks_split_the_shards_and_together_see_every_sample_once(dataset):
    per_rank = [keys(ShardLoader(ShardStream(dataset, ArrayStoreFormat(), rank=r, world_size=3), 4)) for r in range(3)]
    everything = sorted(k for rank in per_rank for k in rank)
    assert len(everything) == len(set(everything)) == 62
    assert [len(rank) for rank in per_rank] == [24, 22, 16]  # shards 0,3,6 | 1,4,7 (of 6) | 2,5


@pytest.mark.parametrize("workers", [0, 2])
def test_a_resumed_loader_continues_with_the_very_next_batch(dataset, workers):
    def loader() -> ShardLoader:
        return ShardLoader(ShardStream(dataset, ArrayStoreFormat(), seed=3), batch_size=5, num_workers=workers)

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
