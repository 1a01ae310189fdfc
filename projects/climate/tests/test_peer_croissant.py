"""Peer check: mlcroissant validates the Croissant of a curated CF zarr dataset and reads every RecordSet."""

import numpy as np

from hfm.climate.curate import DEFAULT_NAME, curate_fields
from hfm.climate.format import CFZarrFormat, open_store
from hfm.shared.cards import load_card
from hfm.shared.croissant import read_records, to_croissant
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.jsonio import dump_json

TEST_OWNER = DatasetDescription(DEFAULT_NAME, "CC0-1.0", ["HFM tests"])  # generated fields, written by the tests


def test_mlcroissant_reads_every_source_with_its_time_steps(tmp_path, synthetic_file):
    raw = tmp_path / "raw"
    raw.mkdir()
    synthetic_file(raw / "a.nc", start="2000-01-01", seed=1)
    synthetic_file(raw / "b.nc", start="2000-01-04", seed=2)
    out = tmp_path / "out"
    curate_fields(sorted(raw.iterdir()), out, TEST_OWNER, train_end="2000-01-03", show_progress=False)
    card, root = load_card(out)
    (out / "croissant.json").write_text(dump_json(to_croissant(card, root)))
    records = read_records(out / "croissant.json")
    keys = {key for key, _ in CFZarrFormat().iter_samples(out)}
    assert {r["key"] for r in records["samples"]} == keys == {"a.nc", "b.nc"}
    sources = open_store(out)["source"].values
    for record in records["samples"]:
        steps = np.flatnonzero(sources == record["key"])
        assert (record["first_step"], record["last_step"]) == (steps[0], steps[-1])
    assert {r["key"] for r in records["metadata"]} == keys
