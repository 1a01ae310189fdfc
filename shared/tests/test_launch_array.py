"""`hfm launch --array`: an sbatch array of curation parts and a merge job that waits for all of them (issue 18)."""

from __future__ import annotations

import pytest

from hfm.shared.errors import HFMError
from hfm.shared.launch import LaunchRequest, load_site
from hfm.shared.launch.array import render_array, render_merge

COMMAND = ["hfm", "template", "curate", "raw dir", "out", "--name", "x", "--license", "CC0-1.0", "--creator", "Me"]


def test_each_task_runs_the_command_and_the_merge_waits_for_the_array():
    site = load_site("horeka")
    request = LaunchRequest(command=COMMAND, account="hk-project")
    array = render_array(site, request, 8)
    assert "#SBATCH --array=0-7" in array and "#SBATCH --output=%x-%A_%a.out" in array
    assert "#SBATCH --job-name=hfm-template-part" in array and "--gres" not in array
    assert "exec python -m hfm.shared.cli.main template curate 'raw dir' out --name x" in array
    merge = render_merge(site, request, "4242")
    assert "#SBATCH --dependency=afterok:4242" in merge and "#SBATCH --array" not in merge
    assert merge.index("unset SLURM_ARRAY_TASK_ID") < merge.index("exec python -m hfm.shared.cli.main template curate")


def test_only_curation_runs_as_an_array_and_only_on_slurm():
    with pytest.raises(HFMError, match="only curation runs as an array"):
        render_array(load_site("local-slurm"), LaunchRequest(command=["hfm", "train", "run.yaml"]), 2)
    with pytest.raises(HFMError, match="no SLURM scheduler"):
        render_array(load_site("local"), LaunchRequest(command=COMMAND), 2)
    with pytest.raises(HFMError, match="between 1 and"):
        render_array(load_site("local-slurm"), LaunchRequest(command=COMMAND), 0)
    with pytest.raises(HFMError, match="--account"):
        render_array(load_site("juwels-booster"), LaunchRequest(command=COMMAND), 2)
