"""hfm-seismic passes the conformance kit: plugin, CLI shape, module layout, tokenizer round trip, curation."""

from pathlib import Path

import numpy as np

import hfm.seismic
from hfm.seismic.curate import CurationConfig, curate_seisbench
from hfm.seismic.plugin import plugin
from hfm.seismic.tokenizer import WaveformTokenizer
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.testing.conformance import check_curation, check_domain, check_tokenizer_round_trip


def test_seismic_conforms():
    assert check_domain(plugin, Path(hfm.seismic.__file__).parent) == []
    window = np.random.default_rng(0).normal(size=(3, 1000)).astype(np.float32)
    assert check_tokenizer_round_trip(WaveformTokenizer(), window) == []


def test_curation_of_real_recordings_is_deterministic_and_counts_every_input(raw_folder, tmp_path):
    """ObsPy's real RJOB recordings as seven stations (four with a defect), an unreadable file and a CSV catalogue
    that also picks a station without a file: 8 earthquake windows + 7 noise windows + 1 unreadable file."""
    folder, picks = raw_folder
    describe = DatasetDescription("rjob", "CC-BY-4.0", ["ObsPy"])
    config = CurationConfig(window_s=4.0, p_offset_s=(1.0, 2.0), noise_gap_s=0.3)

    def run(raw: Path, out: Path):
        return curate_seisbench(raw, picks, out, config, describe, show_progress=False).summary

    assert check_curation(run, folder, tmp_path, expected_inputs=16) == []
    summary = run(folder, tmp_path / "again")
    assert (summary.written, summary.quarantined) == (8, 8)
