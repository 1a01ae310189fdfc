"""Reading volumes: NIfTI (nibabel) and DICOM series (pydicom), always handed on in RAS orientation.

Every reader returns a `Volume`: the voxel array in RAS+ axis order, its affine (voxel index -> RAS millimetres),
the voxel spacing and, for NIfTI, the original header so that a prediction can be written back on the input's grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.safety.headers import check_nifti_header

NIFTI_SUFFIXES = (".nii", ".nii.gz")
# LPS (DICOM patient coordinates) -> RAS (NIfTI world coordinates): flip the first two axes.
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class Volume:
    """A 3D (or 4D channels-last) image in RAS+ voxel order."""

    array: np.ndarray
    affine: np.ndarray
    source: str = ""
    modality: str = "MR"
    header: Any = None  # the nibabel header of the file it came from, kept for writing predictions back
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def spacing(self) -> tuple[float, float, float]:
        return voxel_spacing(self.affine)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape[:3])  # type: ignore[return-value]


def voxel_spacing(affine: np.ndarray) -> tuple[float, float, float]:
    """Millimetres per voxel along each array axis (column norms of the affine's linear part)."""
    return tuple(float(v) for v in np.linalg.norm(np.asarray(affine)[:3, :3], axis=0))  # type: ignore[return-value]


def affine_problem(affine: np.ndarray) -> str | None:
    """Why an affine cannot place voxels in space (None when it can)."""
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4) or not np.all(np.isfinite(affine)):
        return "affine is not a finite 4x4 matrix"
    linear = affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    if np.any(spacing < 1e-6):
        return f"zero voxel spacing {tuple(np.round(spacing, 6))}"
    # Normalised determinant near 0 means the three axes are (nearly) coplanar.
    if abs(np.linalg.det(linear / spacing)) < 1e-3:
        return "axes of the affine are (nearly) collinear: the grid spans no volume"
    return None


def to_ras(image: nib.spatialimages.SpatialImage) -> nib.Nifti1Image:
    """Reorient to the closest canonical RAS+ voxel order (a permutation and flips, no resampling)."""
    return nib.as_closest_canonical(image)


# Spatial units NIfTI allows besides mm, as millimetres per unit: the affine is brought to mm.
_MM_PER_UNIT = {"meter": 1000.0, "micron": 0.001}


def read_nifti(path: str | Path, modality: str = "MR", reorient: bool = True) -> Volume:
    path = Path(path)
    # The header's dims against the file size and the budget, before nibabel decompresses a byte of data.
    if path.is_file() and path.name.lower().endswith(NIFTI_SUFFIXES):
        check_nifti_header(path, working_itemsize=4)
    try:
        image = nib.load(str(path))
    except Exception as error:
        raise InvalidInput(f"{path}: not a readable NIfTI file ({error})") from error
    unit = image.header.get_xyzt_units()[0] if hasattr(image.header, "get_xyzt_units") else "mm"
    if unit in _MM_PER_UNIT:  # xyzt_units micron or metre: read as mm they would be 1000x off
        affine = np.asarray(image.affine, float).copy()
        affine[:3, :] *= _MM_PER_UNIT[unit]
        image = nib.Nifti1Image(image.dataobj, affine, image.header)
        image.header.set_xyzt_units("mm")
    problem = affine_problem(image.affine)
    if problem:
        raise InvalidInput(f"{path}: {problem}", field="affine", code="affine")
    header = image.header.copy()
    if reorient:
        image = to_ras(image)
    array = np.asarray(image.dataobj)
    if array.ndim not in (3, 4):
        raise InvalidInput(f"{path}: {array.ndim} dimensions {array.shape}, expected 3 (or 4 with channels)", "shape")
    return Volume(
        array=array, affine=np.asarray(image.affine, float), source=str(path), modality=modality, header=header
    )


def _dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def read_dicom_series(folder: str | Path, series_uid: str | None = None) -> Volume:
    """Read one DICOM series (slices of a folder) into a RAS volume with rescaled values (HU for CT).

    Slices are ordered along the normal of their ImageOrientationPatient by ImagePositionPatient, as every DICOM
    reader must do: file names and InstanceNumber are not reliable.
    """
    import pydicom

    folder = Path(folder)
    if not folder.is_dir():
        raise HFMError(f"{folder}: a DICOM series is read from a folder of slices")
    series: dict[str, list[Any]] = {}
    for path in _dicom_files(folder):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=False)
        except Exception:
            continue  # not DICOM (a README, a DICOMDIR index without pixels)
        if "PixelData" not in ds or "ImagePositionPatient" not in ds:
            continue
        series.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)
    if not series:
        raise InvalidInput(f"{folder}: no DICOM image slices with ImagePositionPatient found")
    if series_uid is None:
        if len(series) > 1:
            raise HFMError(f"{folder}: holds {len(series)} series ({', '.join(sorted(series))}); name one")
        series_uid = next(iter(series))
    if series_uid not in series:
        raise HFMError(f"{folder}: no series {series_uid!r}")
    slices = series[series_uid]
    orientation = np.asarray(slices[0].ImageOrientationPatient, dtype=float)
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    slices.sort(key=lambda ds: float(np.dot(np.asarray(ds.ImagePositionPatient, float), normal)))
    positions = np.array([np.asarray(ds.ImagePositionPatient, float) for ds in slices])
    row_spacing, col_spacing = (float(v) for v in slices[0].PixelSpacing)
    if len(slices) > 1:
        steps = np.diff(positions @ normal)
        if np.any(steps < 1e-6):
            raise InvalidInput(f"{folder}: two slices share one position", field="ImagePositionPatient", code="affine")
        if np.ptp(steps) > 1e-3 * max(1.0, float(np.mean(steps))):
            raise InvalidInput(
                f"{folder}: slice spacing is not uniform ({steps.min():.4g}-{steps.max():.4g} mm)",
                field="ImagePositionPatient",
                code="affine",
            )
        slice_step = (positions[-1] - positions[0]) / (len(slices) - 1)
    else:
        slice_step = normal * float(slices[0].get("SliceThickness", 1.0) or 1.0)
    # Voxel (i=column, j=row, k=slice) -> LPS: pydicom's pixel_array is (rows, columns), so transpose to (i, j).
    lps = np.eye(4)
    lps[:3, 0] = row_dir * col_spacing
    lps[:3, 1] = col_dir * row_spacing
    lps[:3, 2] = slice_step
    lps[:3, 3] = positions[0]
    planes = []
    for ds in slices:
        pixels = ds.pixel_array.astype(np.float32)
        slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
        planes.append((pixels * slope + intercept).T)
    array = np.stack(planes, axis=-1)
    affine = _LPS_TO_RAS @ lps
    image = to_ras(nib.Nifti1Image(array, affine))
    return Volume(
        array=np.asarray(image.dataobj, dtype=np.float32),
        affine=np.asarray(image.affine, float),
        source=str(folder),
        modality=str(slices[0].get("Modality", "MR")),
        meta={"series_uid": series_uid, "slices": len(slices)},
    )


def read_volume(path: str | Path, modality: str = "MR") -> Volume:
    """A NIfTI file or a folder holding one DICOM series."""
    path = Path(path)
    if path.is_dir():
        return read_dicom_series(path)
    if path.name.endswith(NIFTI_SUFFIXES):
        return read_nifti(path, modality=modality)
    raise HFMError(f"{path}: unknown volume format (expected .nii, .nii.gz or a folder of DICOM slices)")


def write_nifti(path: str | Path, array: np.ndarray, affine: np.ndarray, header: Any = None) -> Path:
    """Write a NIfTI; with `header` (from the input) the output keeps the input's header fields and affine."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if header is not None:
        header = header.copy()
        header.set_data_dtype(array.dtype)
        header.set_slope_inter(1.0, 0.0)  # label maps and floats are written as they are, never rescaled
    image = nib.Nifti1Image(array, affine, header=header)
    if header is None:
        image.set_qform(affine, code=1)
        image.set_sform(affine, code=1)
    nib.save(image, str(path))
    return path


def from_ras(array: np.ndarray, ras_affine: np.ndarray, original_affine: np.ndarray) -> np.ndarray:
    """Undo `to_ras`: put a RAS-ordered array back into the voxel order of the original file."""
    original = nib.orientations.io_orientation(original_affine)
    ras = nib.orientations.io_orientation(ras_affine)
    transform = nib.orientations.ornt_transform(ras, original)
    return nib.orientations.apply_orientation(array, transform)
