"""Issue 20 bad-input corpus through `hfm seismic curate`: hostile waveform folders and catalogues."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from obspy import Stream, Trace, UTCDateTime

from hfm.seismic.readers.catalogue import read_picks
from hfm.shared.errors import HFMError
from hfm.shared.testing.bad_inputs import Probe, check_curate_command

START = UTCDateTime(2020, 1, 1)


def _station(code: str, seed: int, spoil: str | None = None) -> Stream:
    rng = np.random.default_rng(seed)
    traces = []
    for channel in ("HHZ", "HHN", "HHE"):
        data = rng.normal(0, 100, 6000)
        if spoil == "nan" and channel == "HHZ":
            data[1995:2005] = np.nan
        if spoil == "inf" and channel == "HHN":
            data[2000] = np.inf
        header = {"network": "BW", "station": code, "channel": channel, "sampling_rate": 100.0, "starttime": START}
        traces.append(Trace(data=data.astype(np.float64), header=header))
    return Stream(traces)


OWNER = ["--name", "hostile", "--license", "CC0-1.0", "--creator", "Test"]


def test_hostile_waveform_folder_and_catalogue(tmp_path):
    folder, outside = tmp_path / "waveforms", tmp_path / "elsewhere"
    folder.mkdir()
    outside.mkdir()
    _station("GOOD", 0).write(str(folder / "good.mseed"), format="MSEED")
    _station("NANS", 1, "nan").write(str(folder / "nans.mseed"), format="MSEED")
    _station("INFS", 2, "inf").write(str(folder / "infs.mseed"), format="MSEED")
    _station("CUT", 3).write(str(tmp_path / "whole.mseed"), format="MSEED")
    whole = (tmp_path / "whole.mseed").read_bytes()
    (folder / "cut.mseed").write_bytes(whole[: len(whole) // 3 + 1000])  # a third, ending inside a record
    _station("OUTS", 4).write(str(outside / "secret.mseed"), format="MSEED")
    (folder / "link.mseed").symlink_to(outside / "secret.mseed")
    (folder / "notes.txt").write_text("not a waveform\n")
    pick = str(START + 20)
    rows = [
        ("ev1", "GOOD"),
        ("../../../X/rel", "NANS"),  # quarantined: its copy must stay inside the dataset folder
        ("/abs/evil", "INFS"),
        ("ev1", "CUT"),
        ("ev1", "OUTS"),
    ]
    catalogue = tmp_path / "picks.csv"
    table = [{"event_id": e, "network": "BW", "station": s, "phase": "P", "time": pick} for e, s in rows]
    pd.DataFrame(table).to_csv(catalogue, index=False)
    probes = [
        Probe.written("ev1.BW.GOOD"),
        Probe.quarantined("../../../X/rel.BW.NANS", "nan", says="10 NaN and 0 inf samples"),
        Probe.quarantined("/abs/evil.BW.INFS", "inf", says="0 NaN and 1 inf samples"),
        Probe.quarantined("unreadable/cut.mseed", "unreadable", says="truncated miniSEED"),
        Probe.quarantined("ev1.BW.CUT", "no_waveforms"),
        Probe.quarantined("unreadable/link.mseed", "unreadable", says="symlink_escape"),
        Probe.quarantined("ev1.BW.OUTS", "no_waveforms"),
        Probe.quarantined("unreadable/notes.txt", "unreadable", says="not a waveform file"),
    ]
    out = tmp_path / "dataset"
    args = ["seismic", "curate", str(folder), "--catalogue", str(catalogue), "--window", "10", "--no-noise", *OWNER]
    _, problems = check_curate_command(args, out, probes)
    assert problems == []
    copies = [p for p in (out / "quarantine" / "files").rglob("*") if p.is_file()]
    assert any(p.name == "nans.mseed" for p in copies) and not any(p.name == "link.mseed" for p in copies)
    assert not (tmp_path / "X").exists() and not list(tmp_path.glob("**/abs"))


def test_non_utf8_catalogue_is_refused_naming_the_file(tmp_path):
    catalogue = tmp_path / "picks.csv"
    catalogue.write_bytes("event_id,network,station,phase,time\nSkj\u00e6rg,BW,A,P,2020-01-01\n".encode("latin-1"))
    with pytest.raises(HFMError, match=r"picks\.csv: not UTF-8 text \(byte 0xe6"):
        read_picks(catalogue)
