"""Issue 20 bad-input corpus through `hfm radiome curate`: lying NIfTI headers, bombs, inf voxels, foreign files."""

from __future__ import annotations

import gzip
import shutil

import nibabel as nib
import numpy as np

from hfm.radiome.format import DatasetJson, export_case, write_dataset_json
from hfm.radiome.readers.volume import read_nifti
from hfm.radiome.synthetic.phantoms import make_phantom, phantom_affine
from hfm.shared.testing.bad_inputs import Probe, check_curate_command, nifti1_header, nifti_gzip_bomb

LABELS = {"background": 0, "shell": 1, "core": 2}


OWNER = ["--license", "CC0-1.0", "--creator", "HFM tests"]


def test_micron_units_are_converted_to_mm(tmp_path):
    image, _ = make_phantom((12, 12, 12), seed=0)
    nifti = nib.Nifti1Image(image, np.diag([2000.0, 2000.0, 2000.0, 1.0]))  # 2 mm voxels, written in micron
    nifti.header.set_xyzt_units("micron")
    nib.save(nifti, tmp_path / "micron.nii.gz")
    volume = read_nifti(tmp_path / "micron.nii.gz")
    assert volume.spacing == (2.0, 2.0, 2.0)
    assert volume.header.get_xyzt_units()[0] == "mm"  # header and affine agree when a prediction is written back


def test_hostile_nnunet_folder(tmp_path):
    raw, outside = tmp_path / "Dataset009_Probes", tmp_path / "elsewhere"
    outside.mkdir()
    for i in range(2):
        image, label = make_phantom((16, 16, 16), seed=i)
        export_case(raw, f"good{i}", [image * 100.0], phantom_affine(2.0), label)
    images, labels = raw / "imagesTr", raw / "labelsTr"
    shutil.copy(images / "good0_0000.nii.gz", images / "zdup_0000.nii.gz")
    shutil.copy(labels / "good0.nii.gz", labels / "zdup.nii.gz")
    image, label = make_phantom((16, 16, 16), seed=3)
    image = image * 100.0
    image[8, 8, 8] = np.inf
    export_case(raw, "inf", [image], phantom_affine(2.0), label)
    image, label = make_phantom((16, 16, 16), seed=4)
    export_case(raw, "micron", [image * 100.0], phantom_affine(2.0), label)
    for path in (images / "micron_0000.nii.gz", labels / "micron.nii.gz"):
        nifti = nib.load(path)
        scaled = nib.Nifti1Image(np.asarray(nifti.dataobj), nifti.affine * [[1000], [1000], [1000], [1]])
        scaled.header.set_xyzt_units("micron")
        nib.save(scaled, path)
    with gzip.open(images / "huge_0000.nii.gz", "wb") as handle:
        handle.write(nifti1_header((30000, 30000, 30000)) + bytes(4096))
    shutil.copy(labels / "good0.nii.gz", labels / "huge.nii.gz")
    nifti_gzip_bomb(images / "bomb_0000.nii.gz")  # 333 KB, 700^3 voxels, and no label
    shutil.copy(images / "bomb_0000.nii.gz", images / "bombl_0000.nii.gz")
    shutil.copy(labels / "good0.nii.gz", labels / "bombl.nii.gz")
    image, label = make_phantom((16, 16, 16), seed=5)
    export_case(outside, "secret", [image * 100.0], phantom_affine(2.0), label)
    (images / "link_0000.nii.gz").symlink_to(outside / "imagesTr" / "secret_0000.nii.gz")
    shutil.copy(labels / "good1.nii.gz", labels / "link.nii.gz")
    (images / "notes.txt").write_text("scanner log\n")
    shutil.copy(images / "good1_0000.nii.gz", images / "scan.nii.gz")  # no _XXXX channel number
    shutil.copy(labels / "good1.nii.gz", labels / "orphan.nii.gz")
    write_dataset_json(raw, DatasetJson(channel_names={"0": "T1"}, labels=LABELS, numTraining=9))
    probes = [
        Probe.written("good0"),
        Probe.written("good1"),
        Probe.quarantined("zdup", "duplicate", says="same content as 'good0'"),
        Probe.quarantined("inf", "inf", says="1 infinite voxels"),
        Probe.written("micron", why="xyzt_units micron converted to mm"),
        Probe.quarantined("huge", "implausible_header", says="30000x30000x30000 voxels"),
        Probe.quarantined("bomb", "too_large", says="700x700x700 voxels"),  # refused before its label is looked for
        Probe.quarantined("bombl", "too_large", says="700x700x700 voxels"),
        Probe.quarantined("link", "symlink_escape", says="outside the dataset folder"),
        Probe.quarantined("imagesTr/notes.txt", "unsupported_format", says=".nii.gz"),
        Probe.quarantined("labelsTr/orphan.nii.gz", "orphan"),
        Probe.quarantined("imagesTr/scan.nii.gz", "bad_name", says="<CASE>_<XXXX>.nii.gz"),
    ]
    out = tmp_path / "curated"
    _, problems = check_curate_command(["radiome", "curate", str(raw), "--spacing", "4", *OWNER], out, probes)
    assert problems == []
    written = nib.load(out / "imagesTr" / "micron_0000.nii.gz")
    np.testing.assert_allclose(np.linalg.norm(written.affine[:3, :3], axis=0), [4.0, 4.0, 4.0])  # 4 mm, not 4 um
