"""Peer check: mlcroissant validates the Croissant of a curated nnU-Net raw dataset and reads every RecordSet."""

from pathlib import Path

import pytest

from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.radiome.format import NnunetRawFormat
from hfm.shared.cards import load_card
from hfm.shared.croissant import INDEX_FILE, read_records, to_croissant
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.jsonio import dump_json

DESCRIBE = DatasetDescription("phantoms", "CC0-1.0", ["HFM tests"])


def test_mlcroissant_reads_every_case_with_its_files(raw_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    curate_nnunet(raw_dataset, out, (4.0, 4.0, 4.0), DESCRIBE, show_progress=False)
    card, root = load_card(out)
    (out / "croissant.json").write_text(dump_json(to_croissant(card, root)))
    assert (out / INDEX_FILE).exists()  # NIfTI is not readable by mlcroissant: the reader's per-case table is
    records = read_records(out / "croissant.json")
    keys = {key for key, _ in NnunetRawFormat().iter_samples(out)}
    assert {r["key"] for r in records["samples"]} == keys == {"case000", "case001", "case002"}
    for record in records["samples"]:
        files = record["files"].split(";")
        assert files == [f"imagesTr/{record['key']}_0000.nii.gz", f"labelsTr/{record['key']}.nii.gz"]
        assert all((out / f).is_file() for f in files)
    metadata = {r["key"]: r for r in records["metadata"]}
    assert set(metadata) == keys
    assert metadata["case000"]["spacing_x"] == pytest.approx(4.0) and metadata["case000"]["split"] == "train"
    assert metadata["case000"]["size_x"] == 10
