"""climate-mae streams a sharded CF zarr dataset (issue 18): a normalisation fitted shard by shard equal to the
in-memory one, the in-memory path's windows (those within one shard), and `hfm climate pretrain` training from the
shards, curated by `hfm climate curate` from eight real ERA5 days."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import hfm.climate.data as climate_data
from hfm.climate.cli import app
from hfm.climate.tasks import ClimateMAETask
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shard_loader import ShardStream
from hfm.shared.testing.sharding import curate_whole_and_sharded


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> tuple[Path, Path]:
    """Eight days of hourly 2 m temperature over the UK, one file a day, training period days 1-6; curated as one
    store and in shards of two days."""
    try:
        grib = require_data("climate/era5-2mt-2019-03-uk.grib")
    except DataUnavailable as error:
        pytest.skip(str(error))
    from hfm.climate.readers import open_fields

    root, ds = tmp_path_factory.mktemp("climate-stream"), open_fields(grib, None)
    days = []
    for day in range(1, 9):
        days.append(root / f"era5-2019-03-{day:02d}.nc")
        ds.sel(time=f"2019-03-{day:02d}").to_netcdf(days[-1])
    args = [*map(str, days), "--license", "CC-BY-4.0", "--creator", "ECMWF", "--train-end", "2019-03-06"]
    return curate_whole_and_sharded(app, args, root, shard_size=2)


def test_the_streamed_windows_are_the_in_memory_ones_within_a_shard(curated):
    whole, sharded = curated
    memory, streamed = ClimateMAETask({"dataset": str(whole)}), ClimateMAETask({"dataset": str(sharded)})
    stream = streamed.train_dataset()
    assert isinstance(stream, ShardStream) and streamed.variables == memory.variables == 1
    normaliser = stream.reader.normaliser
    assert np.allclose(normaliser.climatology.means, memory.normaliser.means, rtol=1e-6, atol=1e-4)
    assert np.allclose(normaliser.scale, memory.normaliser.scale, rtol=1e-5)
    windows = list(stream)  # no seed: shards in time order
    expected = memory.train_dataset()
    # 144 training hours: 143 windows of 2 in one store, 3 x 47 within the three training shards
    assert (len(expected), len(windows), len(stream)) == (143, 141, 141)
    within = [i for i in range(143) if expected.starts[i] % 48 != 47]  # the two windows across shards left out
    got, want = torch.stack(windows), torch.stack([expected[i] for i in within])
    assert got.shape == (141, 2, 1, 33, 49) and torch.allclose(got, want, atol=1e-4)
    with pytest.raises(HFMError, match="train_ranges, valid_ranges and climatology_channel need an unsharded"):
        ClimateMAETask({"dataset": str(sharded), "train_ranges": [[0, 48]]})


def test_pretrain_trains_from_the_shards(curated, tmp_path):
    _, sharded = curated
    args = ["pretrain", str(sharded), "--out", str(tmp_path / "mae"), "--steps", "3", "--batch-size", "4"]
    result = CliRunner().invoke(app, [*args, "--set", "train.progress=false"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    state = json.loads(next((tmp_path / "mae/run/checkpoints").glob("step-*/state.json")).read_text())
    assert state["data"]["stream"] == [{"epoch": 0, "batches": 3}]
    assert json.loads((tmp_path / "mae/run/summary.json").read_text())["status"] == "completed"


def test_an_epoch_opens_no_xarray_dataset_and_reads_the_same_windows(curated, monkeypatch):
    _, sharded = curated
    stream = ClimateMAETask({"dataset": str(sharded)}).train_dataset()
    reader = stream.reader
    opened: list[Path] = []
    real_open = climate_data.open_store
    monkeypatch.setattr(climate_data, "open_store", lambda path: opened.append(Path(path)) or real_open(path))
    first, second = torch.stack(list(stream)), torch.stack(list(stream))
    assert opened == [] and first.shape == (141, 2, 1, 33, 49) and torch.equal(first, second)
    # A store whose fields carried a CF scale or offset is read through xarray, which applies it: the same windows.
    for shard, plan in reader._plans.items():
        if plan is not None:
            reader._plans[shard] = replace(plan, encoded=True)
    assert torch.equal(torch.stack(list(stream)), first) and len(opened) == 3  # the three training shards
    # Each window is its own copy: changing one leaves the overlapping next one alone.
    windows = list(stream)
    windows[0][1].fill_(7.0)
    assert torch.equal(windows[1][0], first[1][0])
