"""Peer check: mlcroissant validates the Croissant of a curated EcoTaxa dataset and reads every RecordSet."""

import csv

import numpy as np
import pytest

from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.format import EcoTaxaFormat
from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.shared.cards import load_card
from hfm.shared.croissant import read_records, to_croissant
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.jsonio import dump_json

DESCRIBE = DatasetDescription("plankton-test", "CC0-1.0", ["HFM tests"])


def test_mlcroissant_reads_images_and_tsv_rows_joined_by_object_id(mixed_export, tmp_path):
    out = tmp_path / "curated"
    curate_objects(read_ecotaxa(mixed_export), out, DESCRIBE, CurationConfig(canvas=64), show_progress=False)
    card, root = load_card(out)
    (out / "croissant.json").write_text(dump_json(to_croissant(card, root)))
    records = read_records(out / "croissant.json")
    samples = dict(EcoTaxaFormat().iter_samples(out))
    assert len(samples) == 6
    tsv = next(out.glob("*.tsv"))
    with open(tsv, newline="") as handle:
        header = next(csv.reader(handle, delimiter="\t"))
    # the TSV's own column names; the [t]/[f] type row never comes back as a record
    assert len(records["metadata"]) == 6
    for record in records["metadata"]:
        assert set(record) == set(header)
        assert record["object_id"] in samples and "[t]" not in record.values() and "[f]" not in record.values()
    by_id = {r["object_id"]: r for r in records["metadata"]}
    assert by_id["obj_000"]["object_lat"] == pytest.approx(43.68) and by_id["obj_004"]["object_lat"] is None
    assert by_id["obj_002"]["object_image_mode"] == "RGBA"
    assert {r["object_id"] for r in records["samples"]} == set(samples)
    for record in records["samples"]:
        stored = np.asarray(record["image"].convert("L"), dtype=np.float32) / 255
        assert record["img_file_name"].startswith("images/")
        assert stored.shape == samples[record["object_id"]].arrays["image"].shape[1:]


def test_croissant_above_the_dataset_folder_reads_the_same_records(mixed_export, tmp_path):
    out = tmp_path / "curated"
    curate_objects(read_ecotaxa(mixed_export), out, DESCRIBE, CurationConfig(canvas=64), show_progress=False)
    card, root = load_card(out)
    (tmp_path / "above.json").write_text(dump_json(to_croissant(card, root, base="curated/")))
    records = read_records(tmp_path / "above.json")
    assert sorted(r["img_file_name"] for r in records["samples"]) == [f"images/obj_00{i}.png" for i in range(6)]
    assert len(records["metadata"]) == 6
