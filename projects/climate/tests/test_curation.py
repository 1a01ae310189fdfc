import numpy as np
import pandas as pd

from hfm.climate.curate import DEFAULT_NAME, curate_fields
from hfm.climate.format import CFZarrFormat, open_store
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.testing.bad_inputs import outcomes

TEST_OWNER = DatasetDescription(DEFAULT_NAME, "CC0-1.0", ["HFM tests"])  # generated fields, written by the tests


def test_curation_joins_files_and_quarantines_with_reasons(tmp_path, synthetic_file):
    raw = tmp_path / "raw"
    raw.mkdir()
    synthetic_file(raw / "a.nc", start="2000-01-01", seed=1)
    synthetic_file(raw / "b.nc", start="2000-01-04", seed=2)
    synthetic_file(raw / "c_grid.nc", start="2000-01-07", lat=3)
    synthetic_file(raw / "d_units.nc", start="2000-01-10", units="furlongs")
    irregular = pd.DatetimeIndex(["2000-02-01T00", "2000-02-01T06", "2000-02-01T12", "2000-02-01T13", "2000-02-01T18"])
    synthetic_file(raw / "e_time.nc", times=irregular)
    (raw / "f_broken.nc").write_bytes(b"not a netcdf file")
    summary, card = curate_fields(
        sorted(raw.iterdir()), tmp_path / "out", TEST_OWNER, train_end="2000-01-03", show_progress=False
    )
    assert (summary.inputs, summary.written, summary.quarantined) == (6, 2, 4)
    reasons = {key: code for key, (code, _) in outcomes(tmp_path / "out").items()}
    assert reasons == {
        "c_grid.nc": "grid",
        "d_units.nc": "units",
        "e_time.nc": "irregular",
        "f_broken.nc": "unreadable",
    }
    ds = open_store(tmp_path / "out")
    assert ds["fields"].dims == ("time", "variable", "lat", "lon")
    assert ds.sizes["time"] == 24 and list(ds["variable"].values) == ["t", "msl"]
    assert list(ds["units"].values) == ["K", "Pa"]
    train = ds["fields"].values[ds["is_train"].values]
    assert ds["is_train"].values.sum() == 12  # 2000-01-01..03 inclusive at 6 h
    np.testing.assert_allclose(ds["mean"].values, train.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(ds["max"].values, train.max(axis=(0, 2, 3)), rtol=1e-6)
    assert validate_card(tmp_path / "out" / "card.json", CFZarrFormat()) == []
    assert card.records == 2


def test_curation_is_byte_identical_on_rerun(tmp_path, synthetic_file):
    synthetic_file(tmp_path / "a.nc")
    _, first = curate_fields([tmp_path / "a.nc"], tmp_path / "out", TEST_OWNER, show_progress=False)
    _, second = curate_fields([tmp_path / "a.nc"], tmp_path / "out", TEST_OWNER, show_progress=False)
    assert [f.sha256 for f in first.files] == [f.sha256 for f in second.files]
