"""Bundles hfm writes pass EcoTaxa's import rules (`ecotaxa_rules`, from EcoTaxa's backend validation): curated
datasets and plain exports; the rules refuse what EcoTaxa refuses (so the check can fail)."""

import csv

from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.readers.ecotaxa import read_ecotaxa, write_ecotaxa
from hfm.shared.curate_driver import DatasetDescription

DESCRIBE = DatasetDescription("plankton-test", "CC0-1.0", ["HFM tests"])


def test_curated_dataset_and_export_pass_ecotaxa_import_rules(mixed_export, tmp_path, ecotaxa_import_errors):
    curated = tmp_path / "curated"
    curate_objects(read_ecotaxa(mixed_export), curated, DESCRIBE, CurationConfig(canvas=64), show_progress=False)
    assert ecotaxa_import_errors(curated / "ecotaxa_objects.tsv") == []
    header = (curated / "ecotaxa_objects.tsv").read_text().splitlines()[0].split("\t")
    assert {"acq_id", "process_id", "object_image_mode", "object_original_pixel_size_um"} <= set(header)
    assert not [c for c in header if c.startswith("img_") and c not in ("img_file_name", "img_rank")]
    written = write_ecotaxa(read_ecotaxa(curated), tmp_path / "again", "again")
    assert ecotaxa_import_errors(written / "ecotaxa_again.tsv") == []
    table = read_ecotaxa(written).table
    # One process per canvas pixel size: rows sharing process_ values share the process, others do not.
    pairs = set(zip(table["pixel_size_um"], table["process_id"], strict=True))
    assert len(pairs) == len({p for p, _ in pairs}) == len({i for _, i in pairs})


def test_the_rules_refuse_unknown_prefixes_and_missing_parent_ids(tmp_path, ecotaxa_import_errors):
    (tmp_path / "a.png").write_bytes(b"not a png")
    path = tmp_path / "ecotaxa_bad.tsv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(["object_id", "img_file_name", "img_mode", "acq_instrument", "object_area"])
        writer.writerow(["[t]", "[t]", "[t]", "[t]", "[f]"])
        writer.writerow(["o1", "a.png", "L", "FlowCam", "abc"])
        writer.writerow(["o1", "a.png", "L", "FlowCam", "12"])
    errors = ecotaxa_import_errors(path)
    assert any("'img_mode'" in e and "Unknown table prefix" in e for e in errors)
    assert any("field acq_id is mandatory as there are some acq columns" in e for e in errors)
    assert any("Invalid float value 'abc'" in e for e in errors)
    assert any("Error while reading Image 'a.png'" in e for e in errors)
    assert any("Duplicate object 'o1'" in e for e in errors)
