"""Sharded curation as a SLURM array (issue 18): `hfm launch --array 2 -- hfm template curate ...` on the real
single-node test cluster gives the same dataset, byte for byte, as one process curating it all."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hfm.shared.testing.kill_resume import tree_bytes

pytestmark = pytest.mark.slurm
template = pytest.importorskip("hfm.template.synthetic", reason="the template domain (projects/_template) is needed")

CURATE = ["template", "curate", "raw", "--name", "waves", "--license", "CC0-1.0", "--creator", "HFM", "--quiet"]
SHARDING = ["--shard-size", "7"]  # 3 x 12 signals: 6 shards, 3 for each of two array tasks


def test_an_array_of_two_tasks_and_the_merge_equal_one_process(tmp_path: Path, slurm) -> None:
    template.write_example_raw(tmp_path / "raw", per_class=12)
    whole = [slurm.hfm, *CURATE, "--out", "whole", *SHARDING, "--workers", "1"]
    done = subprocess.run(whole, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr

    command = ["hfm", *CURATE, "--out", "arrayed", *SHARDING]
    launch = [slurm.hfm, "launch", "--site", "local-slurm", "--array", "2", "--", *command]
    submitted = subprocess.run(launch, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert submitted.returncode == 0, submitted.stderr
    array_id, merge_id = submitted.stdout.split()[-2:]
    fields = slurm.wait_done(tmp_path, merge_id, "hfm-template-*", timeout_s=240)
    output = slurm.logs(tmp_path, "hfm-template-*")
    assert (fields["JobState"], fields["ExitCode"]) == ("COMPLETED", "0:0"), output
    for task in (0, 1):
        assert f"array task {task} of 2 (job {array_id})" in slurm.logs(
            tmp_path, f"hfm-template-part-{array_id}_{task}.out"
        )
    assert "arrayed: inputs 36 = written 36 + quarantined 0" in slurm.logs(
        tmp_path, f"hfm-template-merge-{merge_id}.out"
    )
    assert sorted(p.name for p in (tmp_path / "arrayed" / "shards").iterdir()) == [f"shard-00000{i}" for i in range(6)]
    assert tree_bytes(tmp_path / "arrayed") == tree_bytes(tmp_path / "whole")
