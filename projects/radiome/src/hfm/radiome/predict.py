"""What `hfm radiome predict` runs: whole-volume inference with MONAI's `sliding_window_inference` (memory bounded by
the window, not the volume), on the model's plan (`predict_file`) or, for brain tissue, at 2 mm on a 1 mm T1.

`segment_subject` segments a 1 mm T1 at 2 mm: 2x2x2 mean pooling, crop to the brain mask's box, the normalisation
of training, MONAI sliding windows (Gaussian weighting), class probabilities trilinearly upsampled back to 1 mm, the
arg-max kept inside the mask. `save_prediction` writes it in the input file's voxel order with its affine and header.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.inferers import sliding_window_inference
from torch import nn

from hfm.radiome.data.preprocess import resample, resample_to_shape
from hfm.radiome.readers.subjects import Subject
from hfm.radiome.readers.volume import from_ras, read_volume, write_nifti
from hfm.radiome.synthetic.synthseg import normalise_t1
from hfm.shared.errors import HFMError


@torch.no_grad()
def predict_volume(
    model: nn.Module, image: np.ndarray, roi_size: Sequence[int], overlap: float = 0.25, sw_batch_size: int = 2
) -> np.ndarray:
    """(C, X, Y, Z) normalised image -> (X, Y, Z) uint8 class map; Gaussian-weighted overlapping windows."""
    model.eval()
    inputs = torch.as_tensor(np.ascontiguousarray(image), dtype=torch.float32)[None]
    logits = sliding_window_inference(
        inputs,
        roi_size=tuple(int(n) for n in roi_size),
        sw_batch_size=sw_batch_size,
        predictor=model,
        overlap=overlap,
        mode="gaussian",
    )
    return logits[0].argmax(dim=0).to(torch.uint8).numpy()


def predict_file(
    model_dir: str | Path, input_path: str | Path, output_path: str | Path, modality: str | None = None
) -> Path:
    """Segment a NIfTI file or DICOM series folder with an exported segmenter; write a NIfTI label map.

    The input is read in RAS, resampled to the model's plan spacing and normalised as in curation; the prediction is
    resampled back to the input grid and put back into the file's own voxel order, then written with the input's
    affine and header (for DICOM input, the series' RAS affine).
    """
    from hfm.radiome import baselines as _baselines  # noqa: F401  (registers the UNet baseline)
    from hfm.radiome import models as _models  # noqa: F401  (registers the radiome models)
    from hfm.radiome.curate.fingerprint import PLAN_FILE, Plan
    from hfm.radiome.data.preprocess import normalize
    from hfm.shared.artifacts import load_pretrained

    plan_path = Path(model_dir) / PLAN_FILE
    if not plan_path.is_file():
        raise HFMError(f"{plan_path}: missing; a segmenter exported by `hfm radiome finetune` carries its plan")
    try:
        plan = Plan.model_validate_json(plan_path.read_text())
    except ValueError as error:
        raise HFMError(f"{plan_path}: not a radiome plan: {error}") from None
    model, _ = load_pretrained(model_dir)
    volume = read_volume(input_path, modality=modality or plan.modality)
    image = np.asarray(volume.array, dtype=np.float32)
    channels = image if image.ndim == 4 else image[None]
    if channels.ndim == 4 and image.ndim == 4:
        channels = np.moveaxis(image, -1, 0)  # NIfTI stores channels last
    if channels.shape[0] != plan.num_channels:
        raise HFMError(f"{input_path}: {channels.shape[0]} channel(s), the model expects {plan.num_channels}")
    resampled, _ = resample(channels, volume.affine, tuple(plan.target_spacing))
    foreground = resampled[0] > resampled[0].min()
    normalised = np.stack([normalize(c, modality or plan.modality, foreground) for c in resampled])
    prediction = predict_volume(model, normalised, plan.patch_size)
    native = resample_to_shape(prediction, volume.shape, is_label=True).astype(np.uint8)
    if volume.header is not None:
        original = nib.load(str(input_path))
        return write_nifti(
            output_path, from_ras(native, volume.affine, original.affine), original.affine, original.header
        )
    return write_nifti(output_path, native, volume.affine)


def _box(mask: np.ndarray, multiple: int) -> tuple[slice, ...]:
    """The mask's bounding box, widened to even sizes (2 mm pooling), clipped to the volume."""
    where = np.argwhere(mask)
    low, high = where.min(0), where.max(0) + 1
    out = []
    for a, b, n in zip(low, high, mask.shape, strict=True):
        size = int(np.ceil((b - a) / multiple) * multiple)
        a = int(max(0, min(a, n - size)))
        out.append(slice(a, min(n, a + size)))
    return tuple(out)


@torch.no_grad()
def segment_subject(
    model: nn.Module, image: np.ndarray, mask: np.ndarray, patch: Sequence[int] = (64, 64, 64), overlap: float = 0.5
) -> np.ndarray:
    """(X, Y, Z) 1 mm T1, brain mask -> (X, Y, Z) uint8 tissue classes on the same grid (0 outside the mask)."""
    if not mask.any():
        raise HFMError("segment_subject: the brain mask is empty")
    model.eval()
    box = _box(mask, 2)
    crop = np.where(mask[box], image[box], 0).astype(np.float32)
    pad = [(0, s % 2) for s in crop.shape]
    crop = np.pad(crop, pad)
    coarse = torch.as_tensor(crop)[None, None]
    coarse = torch.nn.functional.avg_pool3d(coarse, 2)  # 1 mm -> 2 mm
    coarse = torch.as_tensor(normalise_t1(coarse[0, 0].numpy()))[None, None]
    logits = sliding_window_inference(coarse, tuple(patch), 2, model, overlap=overlap, mode="gaussian")
    probabilities = torch.nn.functional.interpolate(logits.softmax(1), size=crop.shape, mode="trilinear")
    labels = probabilities[0].argmax(0).to(torch.uint8).numpy()
    labels = labels[tuple(slice(0, s - p[1]) for s, p in zip(crop.shape, pad, strict=True))]
    out = np.zeros(image.shape, np.uint8)
    out[box] = labels
    out[~mask] = 0
    return out


def segment_any_grid(model: nn.Module, subject: Subject, patch: Sequence[int] = (64, 64, 64)) -> np.ndarray:
    """`segment_subject` for a subject on any grid: resampled to 1 mm first, the labels brought back (nearest)."""
    if np.allclose(subject.spacing, 1.0, atol=1e-3):
        return segment_subject(model, subject.image, subject.mask, patch)
    image, _ = resample(subject.image, subject.affine, (1.0, 1.0, 1.0))
    mask, _ = resample(subject.mask.astype(np.uint8), subject.affine, (1.0, 1.0, 1.0), is_label=True)
    labels = segment_subject(model, np.clip(image, 0, None), mask > 0, patch)
    out = resample_to_shape(labels, subject.image.shape, is_label=True).astype(np.uint8)
    return np.where(subject.mask, out, 0).astype(np.uint8)


def save_prediction(prediction: np.ndarray, subject: Subject, path: str | Path) -> Path:
    """Write a RAS prediction in the subject file's own voxel order and affine (MGH header kept for .mgz input)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    native = from_ras(prediction, subject.affine, subject.native_affine).astype(np.uint8)
    if subject.source.endswith(".mgz") and path.name.endswith(".mgz"):
        header = nib.load(subject.source).header.copy()
        header.set_data_dtype(np.uint8)
        nib.save(nib.MGHImage(native, subject.native_affine, header), str(path))
    else:
        image = nib.Nifti1Image(native, subject.native_affine)
        image.set_qform(subject.native_affine, code=1)
        image.set_sform(subject.native_affine, code=1)
        nib.save(image, str(path))
    return path
