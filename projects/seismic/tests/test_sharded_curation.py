"""Sharded curation (issue 18) on PhaseNet's 154 real NCEDC windows: each shard a small SeisBench dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hfm.seismic.curate import CurationConfig, curate_source
from hfm.seismic.format import SeisBenchDataset, SeisBenchFormat
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import CuratedDataset, DatasetDescription
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shard_curation import Sharding, ShardPart
from hfm.shared.shard_view import readable_format
from hfm.shared.testing.kill_resume import check_kill_and_resume
from hfm.shared.testing.sharding import check_part_then_merge, check_sharded_runs

DESCRIBE = DatasetDescription("ncedc-sharded", "GPL-3.0-only", ["Test"])
NPZ = CurationConfig(sampling_rate=100.0)


def _npz_folder() -> Path:
    try:
        return require_data("seismic") / "phasenet-ncedc" / "dataset" / "waveform_train"
    except DataUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> dict[str, Path]:
    """The same 154 windows curated whole, and in shards of 40 by one and by two workers."""
    raw, root = _npz_folder(), tmp_path_factory.mktemp("sharded")
    runs = {"whole": Sharding(), "one": Sharding(40, workers=1), "two": Sharding(40, workers=2)}
    for name, sharding in runs.items():
        curate_source("npz", raw, None, root / name, NPZ, DESCRIBE, show_progress=False, sharding=sharding)
    return {name: root / name for name in runs}


def test_sharded_dataset_reads_back_like_the_unsharded_one(curated):
    whole, sharded = SeisBenchFormat(), readable_format(curated["two"], SeisBenchFormat())
    assert sorted(p.name for p in (curated["two"] / "shards").iterdir()) == [f"shard-00000{i}" for i in range(4)]
    assert sharded.count(curated["two"]) == whole.count(curated["whole"]) == 152  # 154 inputs, 2 clipped
    pairs = zip(whole.iter_samples(curated["whole"]), sharded.iter_samples(curated["two"]), strict=True)
    for (key_whole, sample_whole), (key_sharded, sample_sharded) in pairs:
        assert key_sharded == key_whole
        assert np.array_equal(sample_sharded.arrays["waveforms"], sample_whole.arrays["waveforms"])
    # Every row alike but trace_name, which locates the trace in its own shard's waveforms.hdf5.
    rows_whole = whole.metadata(curated["whole"]).drop(columns="trace_name")
    rows_sharded = sharded.metadata(curated["two"]).drop(columns="trace_name")
    pd.testing.assert_frame_equal(rows_sharded, rows_whole)
    first_shard = SeisBenchDataset(curated["two"] / "shards" / "shard-000001")  # a SeisBench dataset on its own
    assert len(first_shard) == 38 and first_shard.waveform(0).shape == (3, 9001)  # both clipped are here
    first_shard.close()
    assert validate_card(curated["two"], SeisBenchFormat()) == []


def test_results_do_not_depend_on_the_workers_and_the_one_folder_reader_names_shards(curated):
    assert check_sharded_runs(curated["one"], curated["two"], SeisBenchDataset) == []


def test_one_part_is_refused_until_the_run_without_part_merges_it(curated, tmp_path):
    raw, out = _npz_folder(), tmp_path / "parts"

    def curate(sharding: Sharding) -> CuratedDataset:
        return curate_source("npz", raw, None, out, NPZ, DESCRIBE, show_progress=False, sharding=sharding)

    part, whole = Sharding(40, workers=1, part=ShardPart(0, 2)), Sharding(40, workers=2)  # the part: shards 0 and 2
    problems = check_part_then_merge(
        curate, out, part, whole, finished=2, fmt=SeisBenchFormat(), reader=SeisBenchDataset, expected=curated["two"]
    )
    assert problems == []


# `hfm seismic curate` itself, in shards of 20 by two workers, SIGKILLed at random moments and started again.
CURATE_COMMAND = """
import sys
from hfm.seismic.cli import app
app(["curate", {raw!r}, "--out", sys.argv[1], "--source", "npz", "--name", "ncedc", "--license", "GPL-3.0-only",
     "--creator", "Test", "--quiet", "--shard-size", "20", "--workers", "2"], standalone_mode=False)
"""


def test_curate_killed_at_random_moments_resumes_to_the_same_bytes(tmp_path):
    code = CURATE_COMMAND.format(raw=str(_npz_folder()))
    problems = check_kill_and_resume(code, tmp_path / "killed", tmp_path / "whole", kills=3, seed=18, timeout_s=120)
    assert problems == []
    assert len(list((tmp_path / "killed" / "shards").iterdir())) == 8
