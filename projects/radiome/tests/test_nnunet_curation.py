import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from hfm.radiome.curate.fingerprint import compute_fingerprint, make_plan
from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.radiome.data.preprocess import normalize, resample
from hfm.radiome.format import NnunetRawFormat, export_case, list_cases, read_dataset_json
from hfm.radiome.synthetic.phantoms import make_phantom, phantom_affine
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError

DESCRIBE = DatasetDescription("phantoms", "CC0-1.0", ["HFM tests"])


def test_raw_layout_round_trips(raw_dataset: Path) -> None:
    info = json.loads((raw_dataset / "dataset.json").read_text())
    assert info == {
        "channel_names": {"0": "T1"},
        "labels": {"background": 0, "shell": 1, "core": 2},
        "numTraining": 3,
        "file_ending": ".nii.gz",
    }
    assert sorted(p.name for p in (raw_dataset / "imagesTr").iterdir())[0] == "case000_0000.nii.gz"
    cases = list_cases(raw_dataset)
    assert [c.key for c in cases] == ["case000", "case001", "case002"]
    samples = dict(NnunetRawFormat().iter_samples(raw_dataset))
    image, label = make_phantom((20, 22, 18), seed=1)
    assert np.allclose(samples["case001"].arrays["image"][0], image * 100.0)
    assert np.array_equal(samples["case001"].arrays["label"], label)
    meta = NnunetRawFormat().metadata(raw_dataset)
    assert list(meta["spacing_x"]) == [2.0, 2.0, 2.0]


def test_bad_dataset_json_is_named(tmp_path: Path) -> None:
    (tmp_path / "dataset.json").write_text(
        json.dumps({"channel_names": {"1": "CT"}, "labels": {"background": 0}, "numTraining": 0})
    )
    with pytest.raises(HFMError, match=r"channel_names keys must be 0\.\.0"):
        read_dataset_json(tmp_path)


def test_fingerprint_and_plan(raw_dataset: Path) -> None:
    fingerprint = compute_fingerprint(raw_dataset)
    assert fingerprint.spacings == [[2.0, 2.0, 2.0]] * 3
    assert fingerprint.shapes == [[20, 22, 18]] * 3
    fg = fingerprint.foreground_intensities["0"]
    # Foreground = labelled voxels: shell about 50, core about 90 (x100 scale), never background (about 0).
    assert 15 < fg.percentile_00_5 < 40 < fg.median < fg.percentile_99_5 < 130
    plan = make_plan(fingerprint, token_size=8, spacing=(4.0, 4.0, 4.0))
    assert plan.median_shape == [10, 11, 9] and plan.patch_size == [8, 8, 8]
    plan = make_plan(fingerprint, token_size=4, max_patch_voxels=12**3)
    assert plan.target_spacing == [2.0, 2.0, 2.0]
    assert all(p % 4 == 0 for p in plan.patch_size) and np.prod(plan.patch_size) <= 12**3


def test_resample_keeps_extent_and_labels() -> None:
    image, label = make_phantom((20, 22, 18), seed=0)
    out, affine = resample(label, phantom_affine(2.0), (4.0, 4.0, 4.0), is_label=True)
    assert out.shape == (10, 11, 9) and out.dtype == np.uint8
    assert set(np.unique(out)) == {0, 1, 2}
    # Outer face of the grid stays put: old corner -0.5 voxel (at -1 mm) == new corner -0.5 voxel.
    assert np.allclose(affine @ [-0.5, -0.5, -0.5, 1], phantom_affine(2.0) @ [-0.5, -0.5, -0.5, 1])
    normed = normalize(np.where(label > 0, image * 100, 0), "MR")
    assert abs(normed[label > 0].mean()) < 1e-4 and abs(normed[label > 0].std() - 1) < 1e-3
    ct = normalize(np.array([-3000.0, 0.0, 500.0, 3000.0]), "CT")
    assert ct[0] == ct.min() and np.isclose(ct[-1], ct.max())


def _break(root: Path) -> None:
    image, label = make_phantom((20, 22, 18), seed=9)
    affine = phantom_affine(2.0)
    bad_label = label.copy()
    bad_label[0, 0, 0] = 7
    export_case(root, "badlabel", [image], affine, bad_label)
    export_case(root, "nan", [np.where(label == 2, np.nan, image)], affine, label)
    export_case(root, "constant", [np.full_like(image, 3.0)], affine, label)
    export_case(root, "shape", [image], affine, label[:-1])
    shifted = affine.copy()
    shifted[0, 3] = 5.0
    export_case(root, "moved", [image], affine, label)
    nib.save(nib.Nifti1Image(label, shifted), str(root / "labelsTr" / "moved.nii.gz"))
    (root / "imagesTr" / "broken_0000.nii.gz").write_bytes(b"not a nifti")


def test_curation_resamples_and_quarantines_with_reasons(raw_dataset: Path, tmp_path: Path) -> None:
    _break(raw_dataset)
    done = curate_nnunet(raw_dataset, tmp_path / "out", (4.0, 4.0, 4.0), DESCRIBE, show_progress=False)
    summary, card = done.summary, done.card
    assert (summary.inputs, summary.written, summary.quarantined) == (9, 3, 6)
    with open(tmp_path / "out" / "quarantine" / "report.csv") as handle:
        reasons = {row["key"]: (row["code"], row["reason"]) for row in csv.DictReader(handle)}
    assert reasons["badlabel"][0] == "label_values" and "[7]" in reasons["badlabel"][1]
    assert reasons["nan"][0] == "nan"
    assert reasons["constant"][0] == "constant"
    assert reasons["shape"][0] == "shape" and "(19, 22, 18)" in reasons["shape"][1]
    assert reasons["moved"][0] == "affine" and "5 mm" in reasons["moved"][1]
    assert reasons["broken"][0] == "unreadable"
    out = NnunetRawFormat()
    assert out.count(tmp_path / "out") == 3
    _key, sample = next(iter(out.iter_samples(tmp_path / "out")))
    assert sample.arrays["image"].shape == (1, 10, 11, 9) and sample.arrays["label"].shape == (10, 11, 9)
    assert read_dataset_json(tmp_path / "out").numTraining == 3
    assert validate_card(tmp_path / "out", out) == []
    assert card.records == 3 and card.provenance[0].parameters["target_spacing"] == [4.0, 4.0, 4.0]
    # Curation is deterministic: a second run writes the same bytes.
    first = (tmp_path / "out" / "imagesTr" / "case000_0000.nii.gz").read_bytes()
    curate_nnunet(raw_dataset, tmp_path / "out", (4.0, 4.0, 4.0), DESCRIBE, show_progress=False)
    assert (tmp_path / "out" / "imagesTr" / "case000_0000.nii.gz").read_bytes() == first
