"""Compatibility both ways: hfm writes what SeisBench opens, and reads what SeisBench wrote."""

import numpy as np
import pytest

from hfm.seismic.curate import CurationConfig, curate_seisbench
from hfm.seismic.format import SeisBenchDataset, SeisBenchFormat, parse_trace_name
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import DatasetDescription

DESCRIBE = DatasetDescription("seismic-test", "CC-BY-4.0", ["Test"])


def test_parse_trace_name_follows_seisbench_locations():
    assert parse_trace_name("bucket0$5,:3,:1200") == ("bucket0", (5, slice(None, 3), slice(None, 1200)))
    assert parse_trace_name("trace_17") == ("trace_17", (slice(None),))


def test_seisbench_dummy_opens_in_hfm(dummy_dir):
    dataset = SeisBenchDataset(dummy_dir)
    assert len(dataset) == 100
    assert dataset.component_order == "ZNE"
    assert dataset.sampling_rate(0) == 20.0
    waveform = dataset.waveform(42)
    assert waveform.shape == (3, 1200) and waveform.dtype == np.float32
    assert np.isfinite(waveform).all() and waveform.std() > 0
    assert dataset.metadata["split"].value_counts().to_dict() == {"train": 60, "test": 30, "dev": 10}
    assert SeisBenchFormat().count(dummy_dir) == 100


def test_seisbench_reads_the_dummy_like_hfm(dummy_dir):
    seisbench_data = pytest.importorskip("seisbench.data")
    theirs = seisbench_data.WaveformDataset(dummy_dir, cache=None)
    ours = SeisBenchDataset(dummy_dir)
    for index in (0, 61, 99):
        np.testing.assert_allclose(theirs.get_waveforms(index), ours.waveform(index), rtol=1e-6)


def test_dataset_written_by_hfm_opens_in_seisbench(raw_folder, tmp_path):
    seisbench_data = pytest.importorskip("seisbench.data")
    folder, picks = raw_folder
    out = tmp_path / "dataset"
    config = CurationConfig(sampling_rate=100.0, window_s=4.0, p_offset_s=(1.0, 2.0), noise_gap_s=0.3)
    summary = curate_seisbench(folder, picks, out, config, DESCRIBE, show_progress=False).summary
    assert summary.written >= 4
    theirs = seisbench_data.WaveformDataset(out, cache=None)
    ours = SeisBenchDataset(out)
    assert len(theirs) == len(ours) == summary.written
    assert theirs.data_format["sampling_rate"] == 100.0 and theirs.data_format["component_order"] == "ZNE"
    for index in range(len(ours)):
        np.testing.assert_array_equal(theirs.get_waveforms(index), ours.waveform(index))
    np.testing.assert_array_equal(
        theirs.metadata["trace_P_arrival_sample"].to_numpy(), ours.metadata["trace_P_arrival_sample"].to_numpy()
    )
    assert set(theirs.train().metadata["trace_name"]) <= set(ours.metadata["trace_name"])
    assert validate_card(out, SeisBenchFormat()) == []
