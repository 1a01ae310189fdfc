"""Sharded curation (issue 18): bytes independent of the workers, exact statistics, resume, parts, refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hfm.shared.arraystore import ArrayStoreFormat, ArrayStoreWriter
from hfm.shared.cards import load_card, validate_card
from hfm.shared.contracts import ArraySpec, Sample, SampleContract
from hfm.shared.curate_driver import CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem
from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.shard_curation import Sharding, ShardPart
from hfm.shared.shard_view import readable_format, refuse_sharded
from hfm.shared.testing.kill_resume import tree_bytes
from hfm.shared.testing.sharding import check_part_then_merge, check_reader_names_sharded, check_sharded_runs

CONTRACT = SampleContract(
    name="t", arrays=[ArraySpec(name="data", dims=["x"], dtype="float32", shape=[8], nan_policy="allow")]
)
DESCRIBE = DatasetDescription("sharded", "CC0-1.0", ["HFM"])
TOOL = CurationTool("hfm test curate", "hfm-shared")


def values(index: int) -> np.ndarray:
    return np.random.default_rng(index).normal(index % 7, 1 + index % 3, size=8).astype(np.float32)


def _load(index: int):
    def load() -> Sample:
        if index % 11 == 5:
            raise InvalidInput(f"item {index}: damaged", code="corrupt")
        return Sample(arrays={"data": values(index)}, attrs={"split": "test" if index % 4 == 0 else "train"})

    return load


def items(n: int, keys=None) -> list[CurationItem]:
    return [CurationItem(keys[i] if keys else f"item-{i:05d}", [], _load(i)) for i in range(n)]


def curate(out: Path, n: int = 50, keys=None, detect_duplicates: bool = False, **sharding):
    return curate_dataset(
        items(n, keys),
        out,
        domain="test",
        format="hfm-arrays",
        contract=CONTRACT,
        writer=ArrayStoreWriter(),
        describe=DESCRIBE,
        tool=TOOL,
        show_progress=False,
        detect_duplicates=detect_duplicates,
        sharding=Sharding(**sharding),
    )


def test_the_bytes_do_not_depend_on_the_number_of_workers(tmp_path):
    one = curate(tmp_path / "one", shard_size=8, workers=1)
    curate(tmp_path / "two", shard_size=8, workers=2)
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")
    assert (one.summary.inputs, one.summary.written, one.summary.quarantined) == (50, 45, 5)
    assert one.summary.reasons == {"corrupt": 5} and one.summary.splits == {"test": 12, "train": 33}
    assert sorted(p.name for p in (tmp_path / "one" / "shards").iterdir()) == [f"shard-{i:06d}" for i in range(7)]
    assert validate_card(tmp_path / "two", ArrayStoreFormat()) == []


def test_statistics_merge_exactly_over_shards(tmp_path):
    summary = curate(tmp_path / "out", shard_size=8, workers=1).summary
    written = np.concatenate([values(i) for i in range(50) if i % 11 != 5]).astype(np.float64)
    stats = summary.statistics[0]
    assert stats.count == written.size == 360
    assert (stats.min, stats.max) == (float(written.min()), float(written.max()))
    assert stats.mean == pytest.approx(written.mean(), rel=1e-12)
    assert stats.std == pytest.approx(written.std(), rel=1e-9)


def test_the_quarantine_report_is_one_table_in_key_order(tmp_path):
    curate(tmp_path / "out", shard_size=8, workers=2)
    report = pd.read_csv(tmp_path / "out" / "quarantine" / "report.csv")
    assert list(report["key"]) == [f"item-{i:05d}" for i in (5, 16, 27, 38, 49)]
    assert set(report["code"]) == {"corrupt"}
    assert json.loads((tmp_path / "out" / "curation.json").read_text())["quarantine_report"] == "quarantine/report.csv"


def test_the_readers_see_every_shard_in_order(tmp_path):
    curate(tmp_path / "out", shard_size=8)
    store = readable_format(tmp_path / "out", ArrayStoreFormat())
    keys = [key for key, _ in store.iter_samples(tmp_path / "out")]
    assert keys == [f"item-{i:05d}" for i in range(50) if i % 11 != 5]
    assert store.count(tmp_path / "out") == 45 and len(store.metadata(tmp_path / "out")) == 45


def test_array_parts_then_the_merge_equal_one_process(tmp_path):
    curate(tmp_path / "whole", shard_size=8)
    for index in (1, 0):
        assert curate(tmp_path / "parts", shard_size=8, part=ShardPart(index, 2)).card is None
    staging = tmp_path / ".parts.hfm-new"
    assert not (tmp_path / "parts").exists() and (staging / ".hfm-incomplete").exists()
    with pytest.raises(HFMError, match="incomplete dataset \\(7 shard\\(s\\) finished"):
        load_card(staging)
    with pytest.raises(HFMError, match="incomplete dataset"):
        readable_format(staging, ArrayStoreFormat())
    merged = curate(tmp_path / "parts", shard_size=8)
    assert merged.summary.written == 45
    assert tree_bytes(tmp_path / "parts") == tree_bytes(tmp_path / "whole")


def test_the_part_then_merge_check_passes_a_curation_and_names_a_reader_that_takes_a_part(tmp_path):
    curate(tmp_path / "whole", shard_size=8)
    part, whole = Sharding(8, part=ShardPart(1, 2)), Sharding(8)  # shards 1, 3, 5 of 7
    kit = {"part": part, "whole": whole, "finished": 3, "fmt": ArrayStoreFormat(), "expected": tmp_path / "whole"}

    def check(out: Path, reader) -> list[str]:
        def run(sharding: Sharding):
            return curate(out, shard_size=sharding.shard_size, part=sharding.part)

        return check_part_then_merge(run, out, reader=reader, **kit)

    assert check(tmp_path / "parts", load_card) == []
    lenient = check(tmp_path / "again", lambda root: root)  # takes the staging folder for a dataset
    assert lenient == ["the reader read one part's staging folder as a dataset"]


def test_the_reader_check_wants_a_sharded_dataset_named_with_the_way_to_read_it(tmp_path):
    curate(tmp_path / "out", shard_size=8)

    def one_folder(root: Path) -> None:
        refuse_sharded(root, "an array store", "ArrayStoreFormat")

    assert check_reader_names_sharded(tmp_path / "out", one_folder) == []
    assert check_reader_names_sharded(tmp_path / "out", lambda root: root) == [
        f"the reader read the sharded dataset {tmp_path / 'out'} as one folder"
    ]


def test_the_worker_check_wants_the_same_bytes_enough_files_and_a_reader_that_names_shards(tmp_path):
    for name, workers in (("one", 1), ("two", 2)):
        curate(tmp_path / name, shard_size=8, workers=workers)
    curate(tmp_path / "fewer", n=49, shard_size=8, workers=2)  # without item 49, quarantined in the last shard

    def one_folder(root: Path) -> None:
        refuse_sharded(root, "an array store", "ArrayStoreFormat")

    assert check_sharded_runs(tmp_path / "one", tmp_path / "two", one_folder) == []
    differences = check_sharded_runs(tmp_path / "one", tmp_path / "fewer", one_folder)
    assert "one worker and two workers wrote different bytes: shards/shard-000006/quarantine.jsonl" in differences
    assert "one worker and two workers wrote different bytes: card.json" in differences
    assert check_sharded_runs(tmp_path / "one", tmp_path / "two", one_folder, min_files=1000) == [
        f"{tmp_path / 'one'} holds {len(tree_bytes(tmp_path / 'one'))} files, fewer than 1001"
    ]
    assert check_sharded_runs(tmp_path / "one", tmp_path / "two", lambda root: root) == [
        f"the reader read the sharded dataset {tmp_path / 'two'} as one folder"
    ]


def test_a_slurm_array_task_takes_its_part_from_the_environment(monkeypatch):
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "5")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "4")
    part = ShardPart.from_slurm()
    assert part == ShardPart(1, 3) and [s for s in range(7) if part.owns(s)] == [1, 4]
    assert ShardPart.parse("2/4") == ShardPart(2, 4)
    with pytest.raises(HFMError, match="expected PART/COUNT"):
        ShardPart.parse("2-4")


def test_a_restart_keeps_finished_shards_and_redoes_changed_ones(tmp_path):
    curate(tmp_path / "first", shard_size=8, part=ShardPart(0, 1))  # all shards curated, no merge
    staging = tmp_path / ".first.hfm-new" / "shards"
    kept, redone = ((staging / f"shard-00000{i}" / "shard.json").stat().st_mtime_ns for i in (1, 2))
    renamed = [f"item-{i:05d}" if i != 20 else "renamed" for i in range(50)]
    curate(tmp_path / "first", shard_size=8, keys=renamed)
    shards = tmp_path / "first" / "shards"
    assert (shards / "shard-000001" / "shard.json").stat().st_mtime_ns == kept  # item 20 is in shard 2 only
    assert (shards / "shard-000002" / "shard.json").stat().st_mtime_ns != redone
    curate(tmp_path / "fresh", shard_size=8, keys=renamed)
    assert tree_bytes(tmp_path / "first") == tree_bytes(tmp_path / "fresh")


def test_a_different_shard_size_restarts_and_a_part_refuses(tmp_path):
    curate(tmp_path / "out", shard_size=8, part=ShardPart(0, 2))
    with pytest.raises(HFMError, match="another plan"):
        curate(tmp_path / "out", shard_size=5, part=ShardPart(1, 2))
    assert curate(tmp_path / "out", shard_size=5).summary.files[-1] == "shards/shard-000009/shard.json"


def test_keys_colliding_across_shards_are_refused_at_the_merge(tmp_path):
    keys = [f"item-{i:05d}" for i in range(50)]
    keys[30] = "ITEM-00001"
    with pytest.raises(HFMError, match="both become the file name 'item-00001'"):
        curate(tmp_path / "out", shard_size=8, keys=keys)


def test_a_changed_shard_file_fails_validation(tmp_path):
    curate(tmp_path / "out", shard_size=8)
    sample = next((tmp_path / "out" / "shards" / "shard-000003" / "samples").iterdir())
    sample.write_bytes(sample.read_bytes()[:-1] + b"\x00")
    codes = {(v.field.split("/")[0], v.code) for v in validate_card(tmp_path / "out")}
    assert ("shard-000003", "checksum") in codes


def test_duplicate_detection_is_refused_with_shards(tmp_path):
    with pytest.raises(HFMError, match="detect_duplicates: not available with shard_size"):
        curate(tmp_path / "out", shard_size=8, detect_duplicates=True)


def test_shard_folders_are_spread_over_block_groups_where_the_file_system_can(tmp_path):
    import array
    import fcntl
    import os

    curate(tmp_path / "out", shard_size=8, workers=1)
    handle = os.open(tmp_path / "out" / "shards", os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(handle, 0x80086601, flags, True)  # FS_IOC_GETFLAGS
    except OSError:
        pytest.skip("this file system has no inode flags (not ext2/3/4)")
    finally:
        os.close(handle)
    assert flags[0] & 0x00020000  # FS_TOPDIR_FL: ext4 places each shard folder in its own block group
