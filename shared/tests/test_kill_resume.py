"""A sharded curation killed with SIGKILL at seeded random moments and restarted ends byte-identical (issue 18)."""

from __future__ import annotations

from hfm.shared.testing.kill_resume import check_kill_and_resume, tree_differences

# 400 items of 3 ms each in shards of 20, two workers: about a second of curation after the imports
CURATION = """
import sys, time
import numpy as np
from hfm.shared.arraystore import ArrayStoreWriter
from hfm.shared.contracts import ArraySpec, Sample, SampleContract
from hfm.shared.curate_driver import CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem
from hfm.shared.errors import InvalidInput
from hfm.shared.shard_curation import Sharding

contract = SampleContract(name="t", arrays=[ArraySpec(name="x", dims=["t"], dtype="float32", shape=[16])])

def load(i):
    def read():
        time.sleep(0.003)
        if i % 37 == 3:
            raise InvalidInput(f"item {i}: damaged", code="corrupt")
        return Sample(arrays={"x": np.random.default_rng(i).normal(size=16).astype(np.float32)}, attrs={"i": i})
    return read

curate_dataset(
    (CurationItem(f"item-{i:04d}", [], load(i)) for i in range(400)), sys.argv[1], domain="test",
    format="hfm-arrays", contract=contract, writer=ArrayStoreWriter(), show_progress=False,
    describe=DatasetDescription("killed", "CC0-1.0", ["HFM"]), tool=CurationTool("test", "hfm-shared"),
    sharding=Sharding(shard_size=20, workers=2),
)
"""


def test_sigkill_at_random_moments_then_resume_gives_the_same_bytes(tmp_path):
    problems = check_kill_and_resume(CURATION, tmp_path / "killed", tmp_path / "whole", kills=5, seed=18)
    assert problems == []
    assert len(list((tmp_path / "killed" / "shards").iterdir())) == 20


def test_tree_differences_names_changed_files_and_files_on_one_side_only(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "sub").mkdir(parents=True)
        (root / "same.txt").write_text("x")
    (a / "sub" / "changed.bin").write_bytes(b"1")
    (b / "sub" / "changed.bin").write_bytes(b"2")
    (b / "extra").write_text("")
    assert tree_differences(a, b) == ["extra", "sub/changed.bin"]
    assert tree_differences(a, a) == []
