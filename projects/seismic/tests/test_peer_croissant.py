"""Peer check: mlcroissant validates the Croissant of a curated SeisBench dataset and reads every RecordSet."""

import pandas as pd

from hfm.seismic.curate import CurationConfig, curate_seisbench
from hfm.seismic.format import SeisBenchFormat
from hfm.shared.cards import load_card
from hfm.shared.croissant import read_records, to_croissant
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.jsonio import dump_json

DESCRIBE = DatasetDescription("seismic-test", "CC-BY-4.0", ["Test"])

CONFIG = CurationConfig(sampling_rate=100.0, window_s=4.0, p_offset_s=(1.0, 2.0), noise_gap_s=0.3)


def test_mlcroissant_reads_metadata_and_samples_joined_by_trace_name(raw_folder, tmp_path):
    folder, picks = raw_folder
    out = tmp_path / "dataset"
    curate_seisbench(folder, picks, out, CONFIG, DESCRIBE, show_progress=False)
    card, root = load_card(out)
    (out / "croissant.json").write_text(dump_json(to_croissant(card, root)))
    records = read_records(out / "croissant.json")
    table = pd.read_csv(out / "metadata.csv")
    keys = {key for key, _ in SeisBenchFormat().iter_samples(out)}
    assert len(keys) == len(table) >= 4
    assert {r["trace_name_original"] for r in records["samples"]} == keys
    by_key = {r["trace_name_original"]: r for r in records["samples"]}
    assert len(records["metadata"]) == len(table)
    for record in records["metadata"]:
        assert set(record) == set(table.columns)  # every column of metadata.csv, trace_name included
        assert by_key[record["trace_name_original"]]["trace_name"] == record["trace_name"]
    written = table.set_index("trace_name")
    for record in records["metadata"]:
        assert record["trace_npts"] == written.at[record["trace_name"], "trace_npts"]
        assert record["station_code"] == written.at[record["trace_name"], "station_code"]
