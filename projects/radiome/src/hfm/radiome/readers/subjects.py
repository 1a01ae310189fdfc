"""Brain tissue classes from FreeSurfer labels, the real test subjects, and Dice / 95% Hausdorff on their native grid.

Tissue classes: 0 background, 1 cerebrospinal fluid (CSF), 2 grey matter (GM), 3 white matter (WM). The one mapping
from FreeSurfer label numbers (aseg, aparc+aseg, aparc.a2009s+aseg, and the extra labels of SynthSeg's training maps):

| FreeSurfer labels | structure | tissue |
|---|---|---|
| 4, 5, 43, 44, 14, 15, 24, 72 | lateral / inferior lateral / 3rd / 4th / 5th ventricles, extra-ventricular CSF | CSF |
| 31, 63; 136, 137, 163, 164 | choroid plexus; SynthSeg's extra ventricle labels (mapped to 4/5/43/44 there) | CSF |
| 3, 42, 8, 47; 1000-2999; 11100-12999 | cerebral and cerebellar cortex; aparc and aparc.a2009s cortical parcels | GM |
| 10-13, 17, 18, 26, 49-54, 58 | thalamus, caudate, putamen, pallidum, hippocampus, amygdala, accumbens | GM |
| 30, 62, 80 | vessel (inside the basal ganglia), non-WM hypointensities | GM |
| 2, 41, 7, 46; 16; 28, 60 | cerebral and cerebellar white matter; brain stem; ventral diencephalon | WM |
| 77-79, 85, 251-255, 25, 57, 5001, 5002 | WM hypointensities, optic chiasm, corpus callosum, lesions | WM |
| 0 and everything else (SynthSeg's extra-cerebral labels 258+, 502-530: skull, scalp, eyes, fat) | | background |

Deep grey nuclei count as grey matter (as FSL FAST and ANTs Atropos label them in a three-tissue T1 model); the
brain stem and ventral diencephalon, mostly myelinated tracts, count as white matter.

Test subjects (never trained on, reached through `require_data`):
- `voxelmorph`: `voxelmorph/data/test_scan.npz`, `vol` (a skull-stripped, affine-aligned T1, 160 x 192 x 224, 1 mm)
  and `seg` (its FreeSurfer aseg). The file has no affine; the volume is in FreeSurfer's conformed LIA voxel order
  (checked by eye: axis 1 runs inferior, axis 2 anterior), so it is given the LIA 1 mm affine.
- `niivue`: `niivue/norm.mgz` (FreeSurfer's skull-stripped, intensity-normalised T1, 256^3, 1 mm, LIA) with
  `niivue/aparc.a2009s+aseg.mgz`.
Both are returned in RAS voxel order with their native affine kept, so predictions go back to the file's own grid.
The brain mask of every method is the same: the voxels the shipped skull strip kept (image > 0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import nibabel as nib
import numpy as np

from hfm.shared.errors import HFMError
from hfm.shared.sample_data import require_data

TISSUES = {"background": 0, "csf": 1, "grey_matter": 2, "white_matter": 3}
TISSUE_NAMES = ("CSF", "GM", "WM")  # classes 1, 2, 3: the ones Dice and HD95 are reported for
BACKGROUND, CSF, GM, WM = 0, 1, 2, 3

CSF_LABELS = (4, 5, 14, 15, 24, 31, 43, 44, 63, 72, 136, 137, 163, 164)
GM_LABELS = (3, 8, 10, 11, 12, 13, 17, 18, 26, 30, 42, 47, 49, 50, 51, 52, 53, 54, 58, 62, 80)
WM_LABELS = (2, 7, 16, 25, 28, 41, 46, 57, 60, 77, 78, 79, 85, 251, 252, 253, 254, 255, 5001, 5002)
GM_RANGES = ((1000, 2999), (11100, 12999))  # cortical parcels (aparc, aparc.a2009s)
MAX_LABEL = 14175


def tissue_lookup() -> np.ndarray:
    """Lookup table: FreeSurfer label -> tissue class (uint8), indexable by any label up to MAX_LABEL."""
    lut = np.zeros(MAX_LABEL + 1, np.uint8)
    lut[list(CSF_LABELS)] = CSF
    lut[list(GM_LABELS)] = GM
    lut[list(WM_LABELS)] = WM
    for low, high in GM_RANGES:
        lut[low : high + 1] = GM
    return lut


_LUT = tissue_lookup()


def freesurfer_to_tissue(labels: np.ndarray, source: str = "labels") -> np.ndarray:
    """Map a FreeSurfer label volume to background / CSF / GM / WM; unknown positive labels are background."""
    values = np.asarray(labels)
    if values.dtype.kind == "f" and (not np.all(np.isfinite(values)) or np.any(values != np.round(values))):
        raise HFMError(f"{source}: label volume holds non-integer values")
    values = values.astype(np.int64)
    if values.min() < 0 or values.max() > MAX_LABEL:
        raise HFMError(f"{source}: labels must lie in [0, {MAX_LABEL}], found [{values.min()}, {values.max()}]")
    return _LUT[values]


@dataclass
class Subject:
    """A test subject in RAS voxel order: T1 image, tissue reference, brain mask; `native_affine` of the file."""

    name: str
    image: np.ndarray  # float32, RAS
    reference: np.ndarray  # uint8 tissue classes, RAS
    affine: np.ndarray  # RAS voxel -> mm
    native_affine: np.ndarray  # the file's own affine (its voxel order)
    source: str

    @property
    def mask(self) -> np.ndarray:
        """The shipped skull strip: every method segments inside it, the same for all."""
        return self.image > 0

    @property
    def spacing(self) -> tuple[float, float, float]:
        return tuple(float(v) for v in np.linalg.norm(self.affine[:3, :3], axis=0))  # type: ignore[return-value]


# FreeSurfer's conformed 1 mm orientation: voxel axes run left, inferior, anterior.
LIA_AFFINE = np.array([[-1.0, 0, 0, 0], [0, 0, 1.0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1.0]])


def _ras(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = nib.as_closest_canonical(nib.Nifti1Image(array, affine))
    return np.asarray(image.dataobj), image.affine


def voxelmorph_subject() -> Subject:
    path = require_data("radiome/voxelmorph/data/test_scan.npz")
    with np.load(path) as data:
        for key in ("vol", "seg"):
            if key not in data.files:
                raise HFMError(f"{path}: field {key!r} missing (has {', '.join(data.files)})")
        vol, seg = data["vol"].astype(np.float32), data["seg"]
    if vol.shape != seg.shape:
        raise HFMError(f"{path}: `vol` {vol.shape} and `seg` {seg.shape} differ in shape")
    affine = LIA_AFFINE.copy()
    affine[:3, 3] = -(LIA_AFFINE[:3, :3] @ (np.asarray(vol.shape) / 2))  # centre the volume on the origin
    image, ras_affine = _ras(vol, affine)
    labels, _ = _ras(freesurfer_to_tissue(seg, f"{path}:seg"), affine)
    return Subject("voxelmorph", image, labels, ras_affine, affine, str(path))


def niivue_subject() -> Subject:
    image_path = require_data("radiome/niivue/norm.mgz")
    seg_path = require_data("radiome/niivue/aparc.a2009s+aseg.mgz")
    t1, seg = nib.load(str(image_path)), nib.load(str(seg_path))
    if not np.allclose(t1.affine, seg.affine, atol=1e-3) or t1.shape != seg.shape:
        raise HFMError(f"{seg_path}: grid differs from {image_path} (shape or affine)")
    image, ras_affine = _ras(np.asarray(t1.dataobj, dtype=np.float32), t1.affine)
    labels, _ = _ras(freesurfer_to_tissue(np.asarray(seg.dataobj), str(seg_path)), t1.affine)
    return Subject("niivue", image, labels, ras_affine, t1.affine, str(image_path))


TEST_SUBJECTS = {"voxelmorph": voxelmorph_subject, "niivue": niivue_subject}


def load_test_subjects(names: Sequence[str] = tuple(TEST_SUBJECTS)) -> list[Subject]:
    return [TEST_SUBJECTS[name]() for name in names]


# ITK's 7-class k-means of its example T1 (see brain.py): 4 CSF, 5 grey matter, 6 white matter, the rest outside.
ITK_KMEANS_TO_TISSUE = {4: CSF, 5: GM, 6: WM}


def itk_subject() -> Subject:
    """The ITK example T1 (2 x 2 x 3 mm), skull-stripped with its mask; reference = ITK's own k-means segmentation.

    Not a measurement: agreement with another algorithm's output is reported as a consistency check only.
    Raises FileNotFoundError where Debian's insighttoolkit5-examples is not installed.
    """
    from hfm.radiome.readers.brain import ITK_INSTALL_HINT, ITK_SEGMENTATION, ITK_SKULL_STRIP, ITK_T1, itk_data_dir
    from hfm.radiome.readers.volume import read_nifti

    folder = itk_data_dir()
    if folder is None:
        raise FileNotFoundError(f"ITK example T1 not found; {ITK_INSTALL_HINT}")
    t1 = read_nifti(folder / ITK_T1)
    mask = read_nifti(folder / ITK_SKULL_STRIP).array > 0
    itk = read_nifti(folder / ITK_SEGMENTATION).array.astype(np.int64)
    lookup = np.zeros(max(256, int(itk.max()) + 1), np.uint8)
    for label, tissue in ITK_KMEANS_TO_TISSUE.items():
        lookup[label] = tissue
    image = np.where(mask, t1.array, 0).astype(np.float32)
    native = nib.load(str(folder / ITK_T1)).affine
    return Subject("itk", image, np.where(mask, lookup[itk], 0).astype(np.uint8), t1.affine, native, str(folder))
