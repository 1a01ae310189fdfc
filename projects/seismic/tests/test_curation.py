import h5py
import numpy as np
import pandas as pd
import pytest

from hfm.seismic.curate import CurationConfig, curate_seisbench
from hfm.seismic.format import SeisBenchDataset, SeisBenchFormat
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.plugins import find_format

DESCRIBE = DatasetDescription("seismic-test", "CC-BY-4.0", ["Test"])

CONFIG = CurationConfig(sampling_rate=100.0, window_s=4.0, p_offset_s=(1.0, 2.0), noise_gap_s=0.3)


def test_curation_writes_good_windows_and_quarantines_each_defect_with_its_reason(raw_folder, tmp_path):
    folder, picks = raw_folder
    out = tmp_path / "dataset"
    summary = curate_seisbench(folder, picks, out, CONFIG, DESCRIBE, show_progress=False).summary
    assert summary.inputs == summary.written + summary.quarantined
    report = pd.read_csv(out / "quarantine" / "report.csv")
    codes = dict(zip(report["key"], report["code"], strict=False))
    assert codes["unreadable/broken.mseed"] == "unreadable"
    assert codes["ev1.BW.MISS"] == "no_waveforms"
    assert codes["ev1.BW.SLOW"] == "sampling_rate"
    assert codes["ev1.BW.GAPS"] == "gap"
    assert codes["ev1.BW.FLAT"] == "flat"
    assert codes["ev1.BW.CLIP"] == "clipped"
    dataset = SeisBenchDataset(out)
    meta = dataset.metadata.set_index("trace_name_original")
    assert {"ev1.BW.GOOD", "ev1.BW.ONEC", "ev1.BW.FAST", "ev1.BW.GOOD.noise"} <= set(meta.index)
    assert meta.loc["ev1.BW.ONEC", "trace_components"] == "Z"
    assert meta.loc["ev1.BW.GOOD.noise", "trace_category"] == "noise"
    # P and S onsets land on the sample grid 1.5 s apart at 100 Hz.
    good = meta.loc["ev1.BW.GOOD"]
    assert good["trace_S_arrival_sample"] - good["trace_P_arrival_sample"] == 150
    assert 100 <= good["trace_P_arrival_sample"] <= 200
    rows = {key: i for i, key in enumerate(dataset.metadata["trace_name_original"])}
    onec = dataset.waveform(rows["ev1.BW.ONEC"])
    assert onec.shape == (3, 400) and np.all(onec[1:] == 0) and np.abs(onec[0]).max() > 0
    # The 200 Hz copy, resampled, matches the 100 Hz original to within a few percent of its amplitude.
    good_wave, fast_wave = dataset.waveform(rows["ev1.BW.GOOD"]), dataset.waveform(rows["ev1.BW.FAST"])
    shift = int(good["trace_P_arrival_sample"] - meta.loc["ev1.BW.FAST", "trace_P_arrival_sample"])
    if shift > 0:  # windows start at seeded offsets before P: align them on the P sample
        good_wave, fast_wave = good_wave[:, shift:], fast_wave[:, : 400 - shift]
    else:
        good_wave, fast_wave = good_wave[:, : 400 + shift], fast_wave[:, -shift:]
    assert np.abs(good_wave - fast_wave).max() < 0.05 * np.abs(good_wave).max()
    assert validate_card(out, SeisBenchFormat()) == []
    # `hfm card validate` finds the format through the plugin, and notices a changed waveform file.
    assert validate_card(out, find_format("seisbench")) == []
    dataset.close()
    with h5py.File(out / "waveforms.hdf5", "r+") as handle:
        handle["data/bucket0"][0, 0, 0] += 1
    assert {v.code for v in validate_card(out, find_format("seisbench"))} == {"checksum"}


def test_curation_is_byte_identical_on_rerun(raw_folder, tmp_path):
    folder, picks = raw_folder
    out = tmp_path / "dataset"
    curate_seisbench(folder, picks, out, CONFIG, DESCRIBE, show_progress=False)
    first = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    curate_seisbench(folder, picks, out, CONFIG, DESCRIBE, show_progress=False)
    second = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert first.keys() == second.keys()
    assert all(first[name] == second[name] for name in first)


def test_catalogue_without_required_column_names_it(raw_folder, tmp_path):
    folder, _ = raw_folder
    bad = tmp_path / "bad.csv"
    bad.write_text("event_id,network,phase,time\nev1,BW,P,2009-08-24T00:20:07\n")
    with pytest.raises(HFMError, match="station"):
        curate_seisbench(folder, bad, tmp_path / "out", CONFIG, DESCRIBE, show_progress=False)
