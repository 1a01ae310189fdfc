"""Issue 14's reference audit: one event read in several S-files, SEISAN IDs, weight-4 picks, the sample grid."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import obspy
import pytest
from obspy import UTCDateTime

from hfm.seismic.data.reference_audit import audit_pick
from hfm.seismic.readers import read_stream, stream_to_array
from hfm.seismic.readers.nordic import nordic_curation_items, picked_sensor, read_sfile, record_sample, seisan_id
from hfm.shared.errors import InvalidInput
from hfm.shared.sample_data import DataUnavailable, require_data

START = UTCDateTime("2013-09-05T02:07:35")


def _line(text: str, kind: str) -> str:
    """One 80-column Nordic line: `text` from column 1, the line type in column 80."""
    return text.ljust(79)[:79] + kind


def _phase(station: str, component: str, phase: str, weight: str, minute: int, second: float) -> str:
    # columns 2-6 station, 7-8 instrument and component, 10 onset, 11-14 phase, 15 weight, 19-22 HHMM, 23-28 seconds
    return _line(f" {station:<5}S{component} I{phase:<4}{weight:1}   02{minute:02d}{second:6.2f}", " ")


def _sfile(folder: Path, name: str, event_id: str, wav: str, picks: list[str]) -> Path:
    lines = [
        _line(" 2013  9 5 0208 14.3 L -43.341 170.380  8.2  VUW  3 0.1 1.2LVUW", "1"),
        _line(f" ACTION:NEW 15- 8-11 13:28 OP:TEST STATUS:               ID:{event_id}", "I"),
        _line(f" {wav}", "6"),
        _line(" STAT SP IPHASW D HRMM SECON CODA AMPLIT PERI AZIMU VELO AIN AR TRES W  DIS CAZ", "7"),
        *picks,
        " " * 80,
    ]
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def _wav(folder: Path, name: str, stations: list[str]) -> None:
    rng = np.random.default_rng(0)
    stream = obspy.Stream()
    for station in stations:
        for channel in ("SHZ", "SHN", "SHE"):
            header = {"network": "XX", "station": station, "channel": channel, "sampling_rate": 100.0}
            stream += obspy.Trace(rng.normal(0, 100, 9001).astype(np.int32), {**header, "starttime": START})
    stream.write(str(folder / name), format="MSEED")


def _outcomes(items) -> dict[str, str]:
    out = {}
    for item in items:
        try:
            item.load()
            out[item.key] = "written"
        except InvalidInput as error:
            out[item.key] = error.code
    return out


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, Path]:
    """Two readings (S-files) of one event, as DFDP has them, plus an unrelated event; each names its own WAV cut."""
    rea, wav = tmp_path / "REA", tmp_path / "WAV"
    rea.mkdir()
    wav.mkdir()
    _wav(wav, "a.XX", ["AAA", "BBB", "CCC"])
    _wav(wav, "b.XX", ["AAA", "BBB", "CCC", "DDD"])
    first = [
        _phase("AAA", "Z", "P", "", 8, 16.00),  # read again in the second S-file, 0.02 s apart: one record
        _phase("AAA", "N", "S", "", 8, 17.00),
        _phase("BBB", "Z", "P", "", 8, 16.50),  # the second reading puts it 0.70 s later: ambiguous
        _phase("CCC", "Z", "P", "4", 8, 18.00),  # weight 4: the analyst's "do not use", the station's only pick
    ]
    second = [
        _phase("AAA", "Z", "P", "", 8, 16.02),
        _phase("BBB", "Z", "P", "", 8, 17.20),
        _phase("DDD", "Z", "P", "2", 8, 19.00),  # only this reading has DDD: a new station of the same event
    ]
    _sfile(rea, "05-0208-14L.S201309", "20130905020816", "a.XX", first)
    _sfile(rea, "05-0208-15L.S201309", "20130905020816", "b.XX", second)
    other = [_phase("AAA", "Z", "P", "", 8, 30.00)]
    _sfile(rea, "05-0208-28L.S201309", "20130905020829", "a.XX", other)
    return rea, wav


def test_the_event_is_the_seisan_id_not_the_file_name(archive: tuple[Path, Path]) -> None:
    rea, _ = archive
    assert seisan_id(rea / "05-0208-15L.S201309") == "20130905020816"
    event = read_sfile(rea / "05-0208-15L.S201309")
    assert event.event_id == "20130905020816"  # ObsPy drops the type-I line; the file name differs per reading
    assert [p.weight for p in event.picks] == ["", "", "2"]


def test_weight_four_picks_are_not_reference_picks(archive: tuple[Path, Path]) -> None:
    rea, _ = archive
    event = read_sfile(rea / "05-0208-14L.S201309")
    assert [p.weight for p in event.picks if p.station == "CCC"] == ["4"]
    assert sorted(event.first_picks()) == ["AAA", "BBB"]


def test_readings_of_one_event_give_one_record_per_station_and_none_where_they_disagree(
    archive: tuple[Path, Path],
) -> None:
    rea, wav = archive
    items = nordic_curation_items(rea, wav)
    assert _outcomes(items) == {
        "05-0208-14L.S201309.AAA": "written",
        "05-0208-15L.S201309.AAA": "duplicate",
        "05-0208-14L.S201309.BBB": "conflicting_picks",
        "05-0208-15L.S201309.BBB": "conflicting_picks",
        "05-0208-15L.S201309.DDD": "written",
        "05-0208-28L.S201309.AAA": "written",
    }
    written = {item.key: item.load().attrs for item in items if item.key.endswith(("14L.S201309.AAA", "DDD"))}
    assert {attrs["source_id"] for attrs in written.values()} == {"20130905020816"}
    first = written["05-0208-14L.S201309.AAA"]
    assert (first["trace_P_arrival_sample"], first["trace_S_arrival_sample"]) == (4100, 4200)  # 41.00 s, 42.00 s


@pytest.mark.parametrize("rate", [200.0, 250.0])
def test_resampling_to_100_hz_keeps_an_impulse_on_its_sample(rate: float) -> None:
    """A unit impulse at 12.34 s in a 200 or 250 Hz trace stays at sample 1234 of the 100 Hz record."""
    npts = int(30 * rate)
    data = np.zeros(npts)
    data[round(12.34 * rate)] = 1.0
    start = UTCDateTime("2013-09-05T02:07:34.3")
    trace = obspy.Trace(data, {"station": "X", "channel": "SHZ", "sampling_rate": rate, "starttime": start})
    array, present = stream_to_array(obspy.Stream([trace]), start, 3000, 100.0)
    assert present == "Z"
    column = array[0]
    assert int(np.nanargmax(column)) == 1234
    # zero-phase low-pass + Lanczos: symmetric around the impulse, so no shift hides in the peak's shoulders
    np.testing.assert_allclose(column[1234 - 3 : 1234], column[1235 : 1234 + 4][::-1], rtol=1e-3, atol=1e-6)


def test_dfdp_archive_one_event_read_three_times(tmp_path: Path) -> None:
    """DFDP event 20130905020816 is in three S-files; two put every shared station 0.5-0.9 s after the first."""
    try:
        base = require_data("seismic/dfdp-eqcorrscan")
    except DataUnavailable as error:
        pytest.skip(str(error))
    names = ["05-0208-14L.S201309", "05-0208-15L.S201309", "05-0208-16L.S201309"]
    rea = tmp_path / "REA"
    rea.mkdir()
    for name in names:
        shutil.copy(base / "REA" / "TEST_" / name, rea / name)
    assert {seisan_id(rea / name) for name in names} == {"20130905020816"}
    outcomes = _outcomes(nordic_curation_items(rea, base / "WAV" / "TEST_"))
    written = sorted(key for key, code in outcomes.items() if code == "written")
    assert written == [f"05-0208-14L.S201309.{s}" for s in ("FRAN", "MTFO", "WV02")]
    codes = sorted(code for code in outcomes.values() if code != "written")
    assert codes == ["conflicting_picks"] * 23  # 8 stations in 3 + 3 + 2 S-files, no two readings within 0.1 s
    weighted = read_sfile(base / "REA" / "TEST_" / "11-1826-19L.S201309")
    assert sorted(p.station for p in weighted.picks if p.weight == "4") == ["WZ07", "WZ08"]
    assert not {"WZ07", "WZ08"} & set(weighted.first_picks())


def test_a_station_with_two_sensors_gives_the_one_the_analyst_read(tmp_path: Path) -> None:
    """DFDP's FRAN holds SHZ/SHN/SHE and SH3/SH1/SH2; the S picks name S2/S3, and only that sensor has the event."""
    rea, wav = tmp_path / "REA", tmp_path / "WAV"
    rea.mkdir()
    wav.mkdir()
    rng = np.random.default_rng(1)
    stream = obspy.Stream()
    for channel in ("SHZ", "SHN", "SHE", "SH3", "SH1", "SH2"):
        data = rng.normal(0, 100, 9001)
        if channel.endswith(("1", "2", "3")):
            data[4200:4300] += 5000 * np.sin(np.arange(100) / 3)  # the S wave at 42.00 s, on this sensor only
        header = {"network": "AF", "station": "FRAN", "channel": channel, "sampling_rate": 100.0, "starttime": START}
        stream += obspy.Trace(data.astype(np.int32), header)
    stream.write(str(wav / "f.XX"), format="MSEED")
    _sfile(rea, "05-0208-14L.S201309", "20130905020816", "f.XX", [_phase("FRAN", "2", "S", "", 8, 17.00)])
    assert read_sfile(rea / "05-0208-14L.S201309").picked_components("FRAN") == {"2"}
    (item,) = nordic_curation_items(rea, wav)
    waveforms = item.load().arrays["waveforms"]
    for row, channel in ((0, "SH3"), (1, "SH1"), (2, "SH2")):
        np.testing.assert_array_equal(waveforms[row], stream.select(channel=channel)[0].data[:9000].astype(np.float32))
    # one sensor whose horizontals are 1/2 (GCSZ: EHZ, EH1, EH2) is kept whole, whatever the picks name
    one = obspy.Stream([obspy.Trace(np.zeros(10), {"station": "GCSZ", "channel": c}) for c in ("EHZ", "EH1", "EH2")])
    assert len(picked_sensor(one, {"1"})) == 3


def test_dfdp_fran_records_hold_the_sensor_with_the_event() -> None:
    try:
        base = require_data("seismic/dfdp-eqcorrscan")
    except DataUnavailable as error:
        pytest.skip(str(error))
    event = read_sfile(base / "REA" / "TEST_" / "16-0318-24L.S201309")
    assert event.picked_components("FRAN") == {"2"}
    stream = read_stream(base / "WAV" / "TEST_" / event.wav_names[0]).select(station="FRAN")
    assert sorted(t.stats.channel for t in stream) == ["SH1", "SH2", "SH3", "SHE", "SHN", "SHZ"]
    assert sorted(t.stats.channel for t in picked_sensor(stream, {"2"})) == ["SH1", "SH2", "SH3"]
    # the S-wave energy at the analyst's pick (0.5 s after / 1 s before, 2-20 Hz) is on SH1/SH2, not SHN/SHE
    s_time = event.first_picks()["FRAN"]["S"]
    ratios = {}
    for trace in stream.copy().detrend("demean").filter("bandpass", freqmin=2, freqmax=20):
        x = trace.slice(s_time - 1, s_time + 0.5).data.astype(float)
        rate = trace.stats.sampling_rate
        after = round(0.12 * rate)  # the archive's pick-to-onset offset (docs/seismic-dfdp-audit.md)
        split = round(1.0 * rate) + after
        ratios[trace.stats.channel] = np.mean(x[split:] ** 2) / np.mean(x[:split] ** 2)
    assert min(ratios["SH1"], ratios["SH2"]) > 3 * max(ratios["SHN"], ratios["SHE"])


def test_reference_audit_finds_a_synthetic_onset_at_its_sample_and_nothing_in_noise() -> None:
    """The audit's own bias, measured: a 10 Hz arrival at sample 4200 in unit noise, 100 Hz."""
    rng = np.random.default_rng(3)
    waveforms = rng.normal(0, 1, (3, 9000))
    t = np.arange(600) / 100
    waveforms[0, 4200:4800] += 8 * np.sin(2 * np.pi * 10 * t) * np.exp(-t) * (1 - np.exp(-t / 0.02))
    at_onset = audit_pick(waveforms, 4200, "P", 100.0)
    assert at_onset.verdict == "clear" and at_onset.best_ratio > 1.0
    assert 0.0 <= at_onset.onset_offset_s <= 0.06  # causal 2-20 Hz + AIC: at most 6 samples late
    in_noise = audit_pick(waveforms, 2000, "P", 100.0)
    assert in_noise.verdict == "none" and abs(in_noise.ratio_at_pick) < 0.2


def test_reference_audit_on_a_real_dfdp_record_sees_the_onset_after_the_analyst_pick() -> None:
    """11-2209-25L WZ04: P and S both on clear onsets that start 0.14 s after the analyst's picks (100 Hz record)."""
    try:
        base = require_data("seismic/dfdp-eqcorrscan")
    except DataUnavailable as error:
        pytest.skip(str(error))
    event = read_sfile(base / "REA" / "TEST_" / "11-2209-25L.S201309")
    stream = read_stream(base / "WAV" / "TEST_" / event.wav_names[0]).select(station="WZ04")
    sample = record_sample(stream, event.first_picks()["WZ04"], {}, 100.0, "WZ04")
    p, s = (int(sample.attrs[f"trace_{phase}_arrival_sample"]) for phase in "PS")
    waveforms = sample.arrays["waveforms"]
    for phase, at, other in (("P", p, (s,)), ("S", s, (p,))):
        audit = audit_pick(waveforms, at, phase, 100.0, other)
        assert audit.verdict == "clear", phase
        assert audit.onset_offset_s == pytest.approx(0.14, abs=0.015), phase
        assert audit.best_ratio > audit.noise_p99, phase
