"""Sharded curation (issue 18): one CF zarr store per shard of files, read back like one store, card statistics
merged exactly, same bytes for any number of workers, and the same bytes after SIGKILLs at random moments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hfm.climate.cli import app
from hfm.climate.curate import DEFAULT_NAME, curate_fields
from hfm.climate.format import STORE, CFZarrFormat, open_store
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shard_curation import Sharding
from hfm.shared.shard_view import readable_format
from hfm.shared.testing.bad_inputs import outcomes
from hfm.shared.testing.kill_resume import check_kill_and_resume, tree_bytes

TEST_OWNER = DatasetDescription(DEFAULT_NAME, "CC0-1.0", ["HFM tests"])


def _files(raw: Path, synthetic_file) -> list[Path]:
    """Four 3-day files one after the other, and one with an unknown unit (quarantined, alone in the last shard)."""
    raw.mkdir()
    for i, start in enumerate(["2000-01-01", "2000-01-04", "2000-01-07", "2000-01-10"]):
        synthetic_file(raw / f"{chr(97 + i)}.nc", start=start, seed=i)
    synthetic_file(raw / "f_units.nc", start="2000-01-16", units="furlongs")
    return sorted(raw.iterdir())


def test_sharded_curation_reads_back_like_one_store(tmp_path, synthetic_file):
    files = _files(tmp_path / "raw", synthetic_file)
    options = {"train_end": "2000-01-03", "show_progress": False}
    whole, whole_card = curate_fields(files, tmp_path / "whole", TEST_OWNER, **options)
    sharded, card = curate_fields(files, tmp_path / "sharded", TEST_OWNER, sharding=Sharding(2, workers=2), **options)
    assert (sharded.written, sharded.quarantined) == (whole.written, whole.quarantined) == (4, 1)
    assert outcomes(tmp_path / "sharded") == outcomes(tmp_path / "whole")
    shards = sorted((tmp_path / "sharded" / "shards").iterdir())
    assert [(s / STORE).exists() for s in shards] == [True, True, False]  # the last shard: all quarantined
    fmt_whole = readable_format(tmp_path / "whole", CFZarrFormat())
    fmt_sharded = readable_format(tmp_path / "sharded", CFZarrFormat())
    assert fmt_sharded.count(tmp_path / "sharded") == fmt_whole.count(tmp_path / "whole") == 4
    samples_whole = dict(fmt_whole.iter_samples(tmp_path / "whole"))
    samples_sharded = dict(fmt_sharded.iter_samples(tmp_path / "sharded"))
    assert list(samples_sharded) == list(samples_whole) == ["a.nc", "b.nc", "c.nc", "d.nc"]
    for key, sample in samples_whole.items():
        assert sample.arrays.keys() == samples_sharded[key].arrays.keys()
        for name, values in sample.arrays.items():
            assert np.array_equal(values, samples_sharded[key].arrays[name])
    # metadata rows: same keys and steps per file; the step index is that of the store the file lies in
    rows_whole = fmt_whole.metadata(tmp_path / "whole")
    rows_sharded = fmt_sharded.metadata(tmp_path / "sharded")
    assert list(rows_sharded["key"]) == list(rows_whole["key"])
    assert list(rows_sharded["first_step"]) == [0, 12, 0, 12]
    span = rows_sharded["last_step"] - rows_sharded["first_step"]
    assert list(span) == list(rows_whole["last_step"] - rows_whole["first_step"]) == [11] * 4
    # the training period (first 3 days) lies in shard 0 only: its statistics are those of the one store
    first, second = open_store(shards[0]), open_store(shards[1])
    np.testing.assert_array_equal(first["mean"].values, open_store(tmp_path / "whole")["mean"].values)
    assert np.isnan(second["mean"].values).all() and second.attrs["train_steps"] == 0
    assert validate_card(tmp_path / "whole") == [] and validate_card(tmp_path / "sharded") == []
    assert card.records == 4
    with pytest.raises(HFMError, match="a sharded dataset"):  # the training loaders read one store only
        open_store(tmp_path / "sharded")
    for merged, one_pass in zip(card.statistics, whole_card.statistics, strict=True):  # added in shard order
        assert (merged.name, merged.count, merged.min, merged.max) == (
            one_pass.name,
            one_pass.count,
            one_pass.min,
            one_pass.max,
        )
        assert merged.mean == pytest.approx(one_pass.mean, rel=1e-12) and merged.std == pytest.approx(
            one_pass.std, rel=1e-12
        )


def _curate_cli(files: list[Path], out: Path, *options: str) -> None:
    args = ["curate", *map(str, files), "--out", str(out), "--license", "CC0-1.0", "--creator", "HFM", "--quiet"]
    result = CliRunner().invoke(app, [*args, "--train-end", "2000-01-03", *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_one_and_two_workers_and_parts_write_the_same_bytes(tmp_path, synthetic_file):
    files = _files(tmp_path / "raw", synthetic_file)
    _curate_cli(files, tmp_path / "one", "--shard-size", "2", "--workers", "1")
    _curate_cli(files, tmp_path / "two", "--shard-size", "2", "--workers", "2")
    for part in ("0/2", "1/2"):
        _curate_cli(files, tmp_path / "parts", "--shard-size", "2", "--workers", "1", "--part", part)
    assert not (tmp_path / "parts").exists()  # parts only: no merged dataset yet
    _curate_cli(files, tmp_path / "parts", "--shard-size", "2", "--workers", "1")
    one = tree_bytes(tmp_path / "one")
    assert len([name for name in one if name.endswith("shard.json")]) == 3
    assert one == tree_bytes(tmp_path / "two") == tree_bytes(tmp_path / "parts")


KILLED_CURATION = """
import sys
from hfm.climate.cli import app
app(["curate", *{files!r}, "--out", sys.argv[1], "--license", "CC-BY-4.0", "--creator", "ECMWF", "--quiet",
     "--train-end", "2019-03-04", "--shard-size", "2", "--workers", "2"])
"""


def test_real_era5_days_killed_at_random_moments_resume_to_the_same_bytes(tmp_path):
    try:
        grib = require_data("climate/era5-2mt-2019-03-uk.grib")
    except DataUnavailable as error:
        pytest.skip(str(error))
    from hfm.climate.readers import open_fields

    ds = open_fields(grib, None)
    days = []
    for day in range(1, 9):  # 8 real ERA5 days, one netCDF file each
        path = tmp_path / f"era5-2019-03-{day:02d}.nc"
        ds.sel(time=f"2019-03-{day:02d}").to_netcdf(path)
        days.append(str(path))
    code = KILLED_CURATION.format(files=days)
    problems = check_kill_and_resume(code, tmp_path / "killed", tmp_path / "whole", kills=4, seed=18, timeout_s=120)
    assert problems == []
    fmt = readable_format(tmp_path / "killed", CFZarrFormat())
    assert fmt.count(tmp_path / "killed") == 8 and len(list((tmp_path / "killed" / "shards").iterdir())) == 4
