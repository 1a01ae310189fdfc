import zipfile

import numpy as np
import pandas as pd
import pytest

from hfm.plankton.contract import STANDARD_COLUMNS, standard_contract, to_darwin_core
from hfm.plankton.readers.ecotaxa import read_ecotaxa, write_ecotaxa
from hfm.shared.errors import HFMError


def test_reads_typed_export_into_the_standard(mixed_export):
    objects = read_ecotaxa(mixed_export)
    table = objects.table
    assert list(table.columns[: len(STANDARD_COLUMNS)]) == list(STANDARD_COLUMNS)
    assert len(table) == 13
    first = table.iloc[0]
    assert first["object_id"] == "obj_000"
    assert first["instrument"] == "ZooScan"
    assert first["pixel_size_um"] == pytest.approx(10.58)
    assert first["depth_m"] == pytest.approx(25.0)
    assert first["datetime"] == "2023-04-15T09:30:00Z"
    assert first["taxon"] == "Acantharea"
    assert table.iloc[5]["annotation_status"] == "unclassified"
    assert np.isnan(table.iloc[4]["latitude"])
    assert table.iloc[0]["sample_ship"] == "Sagitta"  # the source's own columns travel along
    assert objects.column_types["object_area"] == "[f]"
    assert standard_contract(require_pixel_size=False).validate_table(table) == []


def test_untyped_export_reads_the_same(tmp_path, row, export):
    typed = read_ecotaxa(export(tmp_path / "a", [row(0, "x.png")], typed=True)).table
    untyped = read_ecotaxa(export(tmp_path / "b", [row(0, "x.png")], typed=False)).table
    pd.testing.assert_frame_equal(typed[list(STANDARD_COLUMNS)], untyped[list(STANDARD_COLUMNS)])
    assert typed.at[0, "object_area"] == 100.0 and untyped.at[0, "object_area"] == "100"  # [f] makes numbers


def test_round_trip_through_folder_and_zip(mixed_export, tmp_path):
    objects = read_ecotaxa(mixed_export)
    good = objects.table.iloc[:6].reset_index(drop=True)
    objects.table = good
    folder = write_ecotaxa(objects, tmp_path / "out", name="rt")
    again = read_ecotaxa(folder)
    pd.testing.assert_frame_equal(again.table[list(good.columns)], good, check_dtype=False)
    for row in range(len(good)):
        assert again.read_image(row) == objects.read_image(row)  # images byte for byte
    archive = write_ecotaxa(objects, tmp_path / "rt.zip", name="rt", as_zip=True)
    zipped = read_ecotaxa(archive)
    pd.testing.assert_frame_equal(zipped.table[list(good.columns)], good, check_dtype=False)
    assert zipped.read_image(3) == objects.read_image(3)
    assert archive.read_bytes() == write_ecotaxa(objects, tmp_path / "rt2.zip", name="rt", as_zip=True).read_bytes()
    with zipfile.ZipFile(archive) as handle:
        lines = handle.read("ecotaxa_rt.tsv").decode().splitlines()
    assert lines[1].split("\t")[:3] == ["[t]", "[t]", "[f]"]  # img_file_name, object_id, object_lat


def test_uvp_pixel_size_in_mm_is_converted(tmp_path, row, export):
    path = export(tmp_path, [row(0, "x.png", process_pixel="")], typed=False)
    text = path.read_text().splitlines()
    text[0] += "\tacq_pixel"
    text[1] += "\t0.094"
    path.write_text("\n".join(text) + "\n")
    assert read_ecotaxa(path).table.at[0, "pixel_size_um"] == pytest.approx(94.0)


def test_bad_exports_name_file_and_reason(tmp_path, row, export):
    path = export(tmp_path, [row(0, "x.png", object_lat="north")])
    with pytest.raises(HFMError, match=r"ecotaxa_test.tsv: column object_lat is typed \[f\] but line 3"):
        read_ecotaxa(path)
    path = export(tmp_path / "s", [row(0, "x.png", object_annotation_status="maybe")])
    with pytest.raises(HFMError, match=r"object_annotation_status.*maybe"):
        read_ecotaxa(path)
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "ecotaxa_x.tsv").write_text("a\tb\n1\t2\n")
    with pytest.raises(HFMError, match=r"\['img_file_name', 'object_id'\] missing"):
        read_ecotaxa(tmp_path / "e")


def test_darwin_core_occurrences(mixed_export):
    dwc = to_darwin_core(read_ecotaxa(mixed_export).table)
    first = dwc.iloc[0]
    assert first["occurrenceID"] == "obj_000"
    assert first["scientificName"] == "Acantharea"
    assert first["decimalLatitude"] == pytest.approx(43.68)
    assert first["eventDate"] == "2023-04-15T09:30:00Z"
    assert first["basisOfRecord"] == "MachineObservation"
    assert first["identifiedBy"] == "human annotator"
    assert first["eventID"] == "tow_1"
