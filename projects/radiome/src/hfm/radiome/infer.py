"""Whole-volume inference with MONAI's `sliding_window_inference`: memory bounded by the window, not the volume."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from torch import nn

from hfm.radiome.preprocess import resample_to_shape
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


def dice_per_class(prediction: np.ndarray, reference: np.ndarray, classes: Sequence[int]) -> dict[int, float]:
    """Dice of each class (1.0 where both are empty, as nnU-Net reports it)."""
    out = {}
    for c in classes:
        p, r = prediction == c, reference == c
        denominator = int(p.sum()) + int(r.sum())
        out[int(c)] = 1.0 if denominator == 0 else 2.0 * int((p & r).sum()) / denominator
    return out


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
    from hfm.radiome.fingerprint import Plan
    from hfm.radiome.preprocess import normalize, resample
    from hfm.radiome.volume import from_ras, read_volume, write_nifti
    from hfm.shared.artifacts import load_pretrained, read_config

    config = read_config(model_dir)
    if "plan" not in config:
        raise HFMError(f"{Path(model_dir) / 'config.json'}: no `plan`; export the model with `hfm radiome finetune`")
    plan = Plan.model_validate(config["plan"])
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
        import nibabel as nib

        original = nib.load(str(input_path))
        return write_nifti(
            output_path, from_ras(native, volume.affine, original.affine), original.affine, original.header
        )
    return write_nifti(output_path, native, volume.affine)
