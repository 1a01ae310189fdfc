"""Real labelled sources: DFDP Nordic S-files with analyst picks (test set) and PhaseNet's NCEDC npz windows."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hfm.seismic.curate import curate_items
from hfm.seismic.readers.nordic import nordic_curation_items, read_sfile
from hfm.seismic.readers.phasenet_npz import npz_curation_items, station_split
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.sample_data import DataUnavailable, require_data


def _data(relative: str) -> Path:
    try:
        return require_data(relative)
    except DataUnavailable as error:
        pytest.skip(str(error))


def test_sfile_reader_gives_analyst_picks_and_wav_name() -> None:
    rea = _data("seismic/dfdp-eqcorrscan") / "REA" / "TEST_"
    event = read_sfile(rea / "01-0411-15L.S201309")
    assert event.wav_names == ["2013-09-01-0410-35.DFDPC_024_00"]
    first = event.first_picks()
    assert sorted(first) == ["EORO", "GCSZ", "LABE", "WHYM", "WV03", "WZ02", "WZ11"]
    assert str(first["GCSZ"]["P"]) == "2013-09-01T04:11:17.240000Z"
    assert str(first["GCSZ"]["S"]) == "2013-09-01T04:11:18.220000Z"
    assert "S" not in first["WZ11"]  # WZ11 has a P and an amplitude reading, no S


def test_nordic_curation_writes_records_and_quarantines_bad_input_with_reasons(tmp_path: Path) -> None:
    base = _data("seismic/dfdp-eqcorrscan")
    rea = tmp_path / "REA"
    rea.mkdir()
    shutil.copy(base / "REA" / "TEST_" / "18-2350-07L.S201309", rea / "18-2350-07L.S201309")
    # A pick 8 minutes after its 90 s record (same fixed-width Nordic line, hour-minute 0411 -> 0419).
    text = (base / "REA" / "TEST_" / "01-0411-15L.S201309").read_text()
    moved = text.replace(" GCSZ SZ IP        411 17.24", " GCSZ SZ IP        419 17.24")
    assert moved != text
    (rea / "01-0411-15L.S201309").write_text(moved)
    # An S-file whose WAV file is not in the archive.
    text = (base / "REA" / "TEST_" / "01-0411-16L.S201309").read_text()
    (rea / "01-0411-16L.S201309").write_text(
        text.replace("2013-09-01-0410-36.DFDPC_027_00", "2013-09-01-0410-36.DFDPC_999_00")
    )
    items = nordic_curation_items(rea, base / "WAV" / "TEST_")
    summary = curate_items(
        items,
        tmp_path / "out",
        100.0,
        DatasetDescription("t", "LGPL-3.0-only", ["Test"]),
        {},
        show_progress=False,
    ).summary
    assert summary.inputs == summary.written + summary.quarantined
    assert summary.reasons == {"missing_wav": 1, "pick_outside": 1, "unknown_station": 2}
    meta = pd.read_csv(tmp_path / "out" / "metadata.csv")
    assert len(meta) == summary.written == 6 + 3  # 7 stations picked in one event (GCSZ moved), 5 in the other
    report = pd.read_csv(tmp_path / "out" / "quarantine" / "report.csv")
    outside = report[report["code"] == "pick_outside"].iloc[0]
    assert outside["key"] == "01-0411-15L.S201309.GCSZ" and "04:19:17.24" in outside["reason"]
    assert set(meta["split"]) == {"test"} and set(meta["trace_sampling_rate_hz"]) == {100.0}
    row = meta[meta["trace_name_original"] == "01-0411-15L.S201309.WZ11"].iloc[0]
    start = pd.Timestamp(row["trace_start_time"])
    p_time = start + pd.Timedelta(seconds=row["trace_P_arrival_sample"] / 100)
    assert abs((p_time - pd.Timestamp("2013-09-01T04:11:17.19Z")).total_seconds()) <= 0.005
    assert set(meta["trace_native_sampling_rate_hz"]) <= {100.0, 200.0, 250.0}


def test_npz_windows_split_by_station_and_clipped_ones_quarantined(tmp_path: Path) -> None:
    folder = _data("seismic/phasenet-ncedc") / "dataset"
    items = npz_curation_items(folder)
    assert len(items) == 154
    summary = curate_items(
        items[::3],
        tmp_path / "out",
        100.0,
        DatasetDescription("t", "MIT", ["Test"]),
        {},
        show_progress=False,
    ).summary
    assert summary.inputs == 52 == summary.written + summary.quarantined
    meta = pd.read_csv(tmp_path / "out" / "metadata.csv")
    assert (meta["trace_P_arrival_sample"] == 3000).all()
    stations = meta.groupby("station_code")["split"].nunique()
    assert (stations == 1).all()  # no station in both splits
    assert station_split("NC", "MEM") == station_split("NC", "MEM")
    single = meta[meta["trace_components"] == "Z"]
    assert len(single) > 0  # single-component stations kept, horizontals zero
    assert np.isfinite(meta["trace_S_arrival_sample"]).all()
