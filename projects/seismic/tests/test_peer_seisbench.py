"""Peer check: SeisBench reads a dataset curated with windows shorter than the pick offsets; no pick lies outside."""

import numpy as np
import pytest
import seisbench.data

from hfm.seismic.curate import CurationConfig, curate_seisbench
from hfm.shared.curate_driver import DatasetDescription

DESCRIBE = DatasetDescription("seismic-test", "CC-BY-4.0", ["Test"])


@pytest.mark.parametrize("window_s", [1.0, 2.0])
def test_short_windows_keep_every_pick_inside_its_window(raw_folder, tmp_path, window_s):
    folder, picks = raw_folder
    out = tmp_path / "dataset"
    config = CurationConfig(sampling_rate=100.0, window_s=window_s, noise_windows=False)  # P offsets 3..12 s
    summary = curate_seisbench(folder, picks, out, config, DESCRIBE, show_progress=False).summary
    assert summary.written >= 3
    theirs = seisbench.data.WaveformDataset(out, cache=None)
    meta = theirs.metadata
    assert (meta["trace_npts"] == round(window_s * 100)).all()
    # the P offset range (3..12 s) is cut to the window: P on its last sample, never beyond
    np.testing.assert_array_equal(meta["trace_P_arrival_sample"].to_numpy(float), meta["trace_npts"] - 1)
    # S comes 1.5 s after P, outside the window: not written rather than written out of range
    assert meta["trace_S_arrival_sample"].isna().all()
    for index in range(len(theirs)):
        assert theirs.get_waveforms(index).shape == (3, round(window_s * 100))
