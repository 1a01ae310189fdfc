"""Fixtures built from real waveforms that ship with ObsPy (BW.RJOB, a local event at 100 Hz) and the shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import obspy
import pytest

from hfm.shared.sample_data import DataUnavailable, require_data

P_TIME = "2009-08-24T00:20:07.70"
S_TIME = "2009-08-24T00:20:09.20"


def seismic_data() -> Path:
    try:
        return require_data("seismic")
    except DataUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture
def seismic_dir() -> Path:
    return seismic_data()


@pytest.fixture
def dummy_dir() -> Path:
    return seismic_data() / "seisbench-dummy"


def _renamed(stream: obspy.Stream, station: str) -> obspy.Stream:
    stream = stream.copy()
    for trace in stream:
        trace.stats.station = station
    return stream


@pytest.fixture
def raw_folder(tmp_path: Path) -> tuple[Path, Path]:
    """Real RJOB recordings written as several stations, each with one defect curation must catch, and picks."""
    folder = tmp_path / "waveforms"
    folder.mkdir()
    real = obspy.read()
    _renamed(real, "GOOD").write(str(folder / "good.mseed"), format="MSEED")
    _renamed(real.select(channel="EHZ"), "ONEC").write(str(folder / "onec.sac"), format="SAC")
    fast = _renamed(real, "FAST")
    for trace in fast:  # 200 Hz: curation must bring it to 100 Hz
        trace.interpolate(200.0)
    fast.write(str(folder / "fast.mseed"), format="MSEED")
    slow = _renamed(real, "SLOW")
    slow.decimate(2)
    for trace in slow:
        trace.data = np.round(trace.data).astype(np.int32)  # GSE2 stores integers
    slow.write(str(folder / "slow.gse2"), format="GSE2")
    gap = _renamed(real, "GAPS")
    t0 = gap[0].stats.starttime
    gap = gap.slice(endtime=t0 + 5.5) + gap.slice(starttime=t0 + 6.0)
    gap.write(str(folder / "gaps.mseed"), format="MSEED")
    flat = _renamed(real, "FLAT")
    flat.select(channel="EHN")[0].data[:] = 7
    flat.write(str(folder / "flat.mseed"), format="MSEED")
    clip = _renamed(real, "CLIP")
    for trace in clip:
        limit = np.abs(trace.data).max() * 0.3
        trace.data = np.clip(trace.data, -limit, limit).astype(trace.data.dtype)
    clip.write(str(folder / "clip.mseed"), format="MSEED")
    (folder / "broken.mseed").write_bytes(b"this is not a waveform file\n" * 20)
    rows = ["event_id,network,station,phase,time,source_magnitude"]
    for station in ["GOOD", "ONEC", "FAST", "SLOW", "GAPS", "FLAT", "CLIP", "MISS"]:
        rows.append(f"ev1,BW,{station},P,{P_TIME},2.1")
        rows.append(f"ev1,BW,{station},S,{S_TIME},2.1")
    picks = tmp_path / "picks.csv"
    picks.write_text("\n".join(rows) + "\n")
    return folder, picks
