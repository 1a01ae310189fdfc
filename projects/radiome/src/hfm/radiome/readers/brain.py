"""Real brain volumes for the tissue benchmark, from files the registries ship (nothing downloads).

Training subject: the MNI152 2009c T1 template in nilearn, skull-stripped, 1 mm, with grey- and white-matter
probability maps. Labels: background 0, grey matter 1, white matter 2, each voxel taking the most probable of
(1 - p_gm - p_wm, p_gm, p_wm) inside the template's brain (T1 > 0).

Test subject: a different real T1 at another resolution (128 x 128 x 62 voxels of 2 x 2 x 3 mm, LSA) with its
7-class k-means segmentation, from Debian's `insighttoolkit5-examples`. The image is skull-stripped with the
dataset's own mask (`KmeansTest_T1RawSkullStrip`, non-zero inside the brain), as the training template is.
Label mapping of `KmeansTest_T1KmeansPrelimSegmentation` (established from the mean T1 intensity of each label and
its overlap with the skull-strip mask):

| ITK label | what it is (mean T1, 0-255) | benchmark class |
|---|---|---|
| 1, 2, 3 | outside the brain: air, scalp, skull (1, 43, 80) | 0 background |
| 0 | 126 voxels inside the mask (45) | 0 background |
| 4 | cerebrospinal fluid (48) | 0 background |
| 5 | grey matter (76) | 1 grey matter |
| 6 | white matter (101) | 2 white matter |
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

from hfm.radiome.format import DatasetJson, export_case, write_dataset_json
from hfm.radiome.readers.volume import Volume, read_nifti

TISSUE_LABELS = {"background": 0, "grey_matter": 1, "white_matter": 2}
ITK_TO_TISSUE = {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 2}
ITK_DATA_DIRS = (Path("/usr/share/doc/insighttoolkit5-examples/examples/Data"),)
ITK_T1 = "KmeansTest_T1UCharRaw.nii.gz"
ITK_SEGMENTATION = "KmeansTest_T1KmeansPrelimSegmentation.nii.gz"
ITK_SKULL_STRIP = "KmeansTest_T1RawSkullStrip.nii.gz"
ITK_INSTALL_HINT = "apt-get install insighttoolkit5-examples (Debian/Ubuntu) provides the ITK example T1"


def nilearn_data_dir() -> Path | None:
    try:
        import nilearn.datasets
    except ImportError:
        return None
    folder = Path(nilearn.datasets.__file__).parent / "data"
    return folder if (folder / "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz").exists() else None


def mni152_tissue() -> tuple[Volume, np.ndarray]:
    """The MNI152 T1 (RAS, 1 mm) and its background / GM / WM labels."""
    folder = nilearn_data_dir()
    if folder is None:
        raise FileNotFoundError("nilearn with its MNI152 template is not installed (pip install nilearn)")
    name = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
    t1 = read_nifti(folder / name.format("t1"))
    gm = read_nifti(folder / name.format("gm")).array.astype(np.float32) / 255.0
    wm = read_nifti(folder / name.format("wm")).array.astype(np.float32) / 255.0
    background = np.clip(1.0 - gm - wm, 0.0, 1.0)
    label = np.argmax(np.stack([background, gm, wm]), axis=0).astype(np.uint8)
    label[t1.array <= 0] = 0
    return t1, label


def itk_data_dir() -> Path | None:
    for folder in ITK_DATA_DIRS:
        if (folder / ITK_T1).exists() and (folder / ITK_SEGMENTATION).exists() and (folder / ITK_SKULL_STRIP).exists():
            return folder
    return None


def itk_subject() -> tuple[Volume, np.ndarray, nib.Nifti1Image]:
    """The ITK example T1, skull-stripped, in RAS; its labels mapped to background / GM / WM; the original file."""
    folder = itk_data_dir()
    if folder is None:
        raise FileNotFoundError(f"ITK example T1 not found in {', '.join(map(str, ITK_DATA_DIRS))}; {ITK_INSTALL_HINT}")
    t1 = read_nifti(folder / ITK_T1)
    mask = read_nifti(folder / ITK_SKULL_STRIP).array > 0
    segmentation = read_nifti(folder / ITK_SEGMENTATION).array
    lookup = np.zeros(256, np.uint8)
    for itk, tissue in ITK_TO_TISSUE.items():
        lookup[itk] = tissue
    t1.array = np.where(mask, t1.array, 0).astype(np.int16)
    return t1, lookup[segmentation], nib.load(str(folder / ITK_T1))


def write_brain_dataset(root: str | Path, with_test_subject: bool = True) -> Path:
    """An nnU-Net raw dataset: MNI152 as the one labelled training case, the ITK T1 (no label) in imagesTs."""
    root = Path(root)
    t1, label = mni152_tissue()
    export_case(root, "mni152", [t1.array], t1.affine, label)  # stored as shipped (uint8): small and fast
    if with_test_subject:
        subject, _, _ = itk_subject()
        export_case(root, "itk_t1", [subject.array], subject.affine)
    write_dataset_json(
        root,
        DatasetJson(
            channel_names={"0": "T1"},
            labels=TISSUE_LABELS,
            numTraining=1,
            name="BrainTissue",
            description="MNI152 2009c T1 with nilearn tissue maps (train); ITK example T1 (test)",
        ),
    )
    return root
