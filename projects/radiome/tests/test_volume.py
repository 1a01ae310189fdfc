import copy
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from hfm.radiome.readers.volume import affine_problem, from_ras, read_dicom_series, read_nifti, read_volume, write_nifti
from hfm.shared.errors import HFMError, InvalidInput


def test_nifti_is_reoriented_to_ras_without_losing_voxels(tmp_path: Path) -> None:
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    # LSA orientation with 2 x 3 x 4 mm voxels, as in ITK's example T1.
    affine = np.array([[-2.0, 0, 0, 10], [0, 0, 4, -20], [0, 3, 0, 5], [0, 0, 0, 1]])
    path = write_nifti(tmp_path / "lsa.nii.gz", array, affine)
    volume = read_nifti(path)
    assert nib.aff2axcodes(volume.affine) == ("R", "A", "S")
    assert volume.shape == (4, 6, 5)
    assert volume.spacing == (2.0, 4.0, 3.0)
    # The same voxel keeps its world position: voxel (0, 0, 0) of the file is at RAS (10, -20, 5).
    ijk = np.linalg.inv(volume.affine) @ np.array([10.0, -20.0, 5.0, 1.0])
    i, j, k = np.round(ijk[:3]).astype(int)
    assert volume.array[i, j, k] == array[0, 0, 0]
    assert np.array_equal(from_ras(volume.array, volume.affine, affine), array)


def test_real_nibabel_nifti_reads() -> None:
    path = Path(nib.__file__).parent / "tests" / "data" / "anatomical.nii"
    if not path.exists():
        pytest.skip(f"{path} not shipped by this nibabel")
    volume = read_nifti(path)
    assert volume.array.ndim == 3 and min(volume.spacing) > 0


def _write_series(folder: Path, n: int, shuffle: bool) -> tuple[pydicom.Dataset, list[float]]:
    """A series made from pydicom's real CT slice, repeated along z with 5 mm steps (files in shuffled order)."""
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    folder.mkdir()
    order = list(range(n))[::-1] if shuffle else list(range(n))
    zs = []
    for file_index, slice_index in enumerate(order):
        ds = copy.deepcopy(source)
        z = float(source.ImagePositionPatient[2]) + 5.0 * slice_index
        ds.ImagePositionPatient = [source.ImagePositionPatient[0], source.ImagePositionPatient[1], z]
        ds.InstanceNumber = file_index + 1
        ds.SOPInstanceUID = pydicom.uid.generate_uid(entropy_srcs=[str(slice_index)])
        ds.save_as(folder / f"IM{file_index:03d}.dcm")
        zs.append(z)
    return source, sorted(zs)


def test_dicom_series_reads_in_hounsfield_units_with_ras_affine(tmp_path: Path) -> None:
    source, zs = _write_series(tmp_path / "series", 4, shuffle=True)
    volume = read_volume(tmp_path / "series")
    assert volume.modality == "CT" and volume.shape == (128, 128, 4)
    assert np.allclose(volume.spacing, (0.661468, 0.661468, 5.0), atol=1e-5)
    assert nib.aff2axcodes(volume.affine) == ("R", "A", "S")
    hu = source.pixel_array.astype(np.float32) * float(source.RescaleSlope) + float(source.RescaleIntercept)
    # DICOM row r, column c at LPS (x0 + c dx, y0 + r dy); in RAS x and y flip, so RAS i counts columns backwards.
    assert np.allclose(volume.array[:, :, 0], hu.T[::-1, ::-1])
    world = volume.affine @ np.array([127.0, 127.0, 0.0, 1.0])
    x0, y0, _ = (float(v) for v in source.ImagePositionPatient)
    assert np.allclose(world[:3], [-x0, -y0, zs[0]], atol=1e-4)


def test_dicom_series_matches_monai_reader(tmp_path: Path) -> None:
    from monai.data import PydicomReader

    _write_series(tmp_path / "series", 3, shuffle=False)
    ours = read_dicom_series(tmp_path / "series")
    reader = PydicomReader(affine_lps_to_ras=True)
    data, meta = reader.get_data(reader.read(str(tmp_path / "series")))
    theirs = nib.as_closest_canonical(nib.Nifti1Image(np.asarray(data, np.float32), meta["affine"]))
    assert np.allclose(ours.affine, theirs.affine, atol=1e-3)
    assert np.allclose(ours.array, np.asarray(theirs.dataobj), atol=1e-3)


def test_dicom_errors_name_the_problem(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInput, match="no DICOM image slices"):
        read_dicom_series(tmp_path / "empty")
    _write_series(tmp_path / "dup", 2, shuffle=False)
    shutil.copy(tmp_path / "dup" / "IM000.dcm", tmp_path / "dup" / "IM999.dcm")
    with pytest.raises(InvalidInput, match="share one position"):
        read_dicom_series(tmp_path / "dup")
    with pytest.raises(HFMError, match="unknown volume format"):
        read_volume(tmp_path / "x.mha")


def test_degenerate_affines_are_named() -> None:
    assert affine_problem(np.eye(4)) is None
    assert "zero voxel spacing" in affine_problem(np.diag([1.0, 0.0, 1.0, 1.0]))
    collinear = np.eye(4)
    collinear[:3, 1] = [1.0, 0.0, 0.0]
    assert "collinear" in affine_problem(collinear)
    assert "finite" in affine_problem(np.full((4, 4), np.nan))
