"""Tissue segmentation learnt from synthesised images: trainer tasks, MAE pretraining volumes, whole-head inference.

Tasks for the shared trainer (entry-point group `hfm.tasks`):
- `radiome-synthseg`: a segmenter (hfm UNETR, or `radiome-unet-baseline`) on the SynthSeg-style stream, 4 classes
  (background / CSF / GM / WM), cross-entropy + soft Dice; `pretrained` loads an MAE's encoder.
- `radiome-mae-volumes`: masked autoencoding on random crops of every real MR volume available (MNI152 from nilearn,
  niivue's FLAIR, the ITK example T1 where installed) alternating with synthetic images. The test subjects are never
  among them.

`segment_subject` segments a 1 mm T1 at 2 mm: 2x2x2 mean pooling, crop to the brain mask's box, the normalisation
of training, MONAI sliding windows (Gaussian weighting), class probabilities trilinearly upsampled back to 1 mm, the
arg-max kept inside the mask. `save_prediction` writes it in the input file's voxel order with its affine and header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch
from monai.inferers import sliding_window_inference
from torch import nn
from torch.utils.data import Dataset

from hfm.radiome import baselines as _baselines  # noqa: F401  (registers the UNet baseline)
from hfm.radiome import models as _models  # noqa: F401  (registers the radiome models)
from hfm.radiome.synth import GRID_MM, SynthSegDataset, normalise_t1
from hfm.radiome.tasks import run_task, segmentation_loss
from hfm.radiome.tissue import Subject
from hfm.shared.artifacts import load_pretrained
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model

CLASSES = 4


@dataclass
class SynthSegOptions:
    label_maps: int = 20
    seed: int = 0
    patch: list[int] = field(default_factory=lambda: [64, 64, 64])
    model: str = "radiome-unetr-tiny"
    model_args: dict[str, Any] = field(default_factory=dict)
    pretrained: str | None = None
    length: int = 10**6

    @classmethod
    def parse(cls, options: dict[str, Any], task: str) -> SynthSegOptions:
        unknown = sorted(set(options) - set(cls.__dataclass_fields__) - {"name"})
        if unknown:
            raise HFMError(f"task {task}: unknown option(s) {', '.join(unknown)}")
        return cls(**{k: v for k, v in options.items() if k != "name"})


class SynthSegTask:
    """Segmentation on a fresh synthetic image every sample (`SynthSegDataset`, item i = f(seed, i))."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = SynthSegOptions.parse(options, "radiome-synthseg")
        self.load_report: Any = None

    def build_model(self) -> nn.Module:
        o = self.options
        model = create_model(o.model, **{"classes": CLASSES, **o.model_args})
        if o.pretrained:
            _, self.load_report = load_pretrained(o.pretrained, model)
            if not any(k.startswith("encoder.") for k in self.load_report.matched):
                raise HFMError(f"{o.pretrained}: no encoder weights matched the model ({self.load_report.summary()})")
        return model

    def train_dataset(self) -> Dataset:
        o = self.options
        from hfm.radiome.synth import SynthesisConfig

        return SynthSegDataset(o.label_maps, o.seed, o.length, SynthesisConfig(patch=tuple(o.patch)))

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        return segmentation_loss(model(batch["image"]), batch["label"])


def real_mr_volumes() -> dict[str, np.ndarray]:
    """Every real MR volume for pretraining, RAS, on the 2 mm grid, normalised: name -> (X, Y, Z) float32.

    MNI152 2009 T1 (nilearn), niivue's FLAIR and, where the Debian package is installed, the ITK example T1 (its
    2 x 2 x 3 mm grid resampled). Absent sources are left out; the test subjects are never read here.
    """
    from hfm.radiome.brain import itk_data_dir, mni152_tissue
    from hfm.radiome.preprocess import resample
    from hfm.radiome.volume import read_nifti
    from hfm.shared.sample_data import DataUnavailable, require_data

    volumes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        t1, _ = mni152_tissue()
        volumes["mni152"] = (t1.array, t1.affine)
    except FileNotFoundError:
        pass
    try:
        flair = read_nifti(require_data("radiome/niivue/FLAIR.nii.gz"))
        volumes["niivue-flair"] = (flair.array, flair.affine)
    except DataUnavailable:
        pass
    if (folder := itk_data_dir()) is not None:
        itk = read_nifti(folder / "KmeansTest_T1UCharRaw.nii.gz")
        volumes["itk-t1"] = (itk.array, itk.affine)
    out = {}
    for name, (array, affine) in volumes.items():
        resampled, _ = resample(np.asarray(array, np.float32), affine, (GRID_MM,) * 3)
        out[name] = normalise_t1(resampled)
    return out


class PretrainVolumes(Dataset):
    """Item i: a random crop of a real MR volume (even i) or a synthetic image (odd i); a pure function of (seed, i)."""

    def __init__(
        self,
        volumes: dict[str, np.ndarray],
        synthetic: SynthSegDataset | None,
        patch: Sequence[int],
        seed: int = 0,
        length: int = 10**6,
    ) -> None:
        if not volumes and synthetic is None:
            raise HFMError("MAE pretraining: no real MR volume and no synthetic images to learn from")
        self.volumes = [
            np.pad(v, [(0, max(0, p - s)) for s, p in zip(v.shape, patch, strict=True)]) for v in volumes.values()
        ]
        self.synthetic, self.patch, self.seed, self.length = synthetic, tuple(patch), seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.synthetic is not None and (index % 2 == 1 or not self.volumes):
            return {"image": self.synthetic[index]["image"]}
        rng = np.random.default_rng([self.seed, int(index)])
        volume = self.volumes[int(rng.integers(len(self.volumes)))]
        low = [int(rng.integers(0, s - p + 1)) for s, p in zip(volume.shape, self.patch, strict=True)]
        crop = volume[tuple(slice(a, a + p) for a, p in zip(low, self.patch, strict=True))]
        if rng.random() < 0.5:
            crop = crop[::-1]
        return {"image": torch.as_tensor(np.ascontiguousarray(crop), dtype=torch.float32)[None]}


class MAEVolumesTask:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = dict(options)

    def build_model(self) -> nn.Module:
        return create_model("radiome-mae-tiny", **self.options.get("model_args", {}))

    def train_dataset(self) -> Dataset:
        o = self.options
        patch = o.get("patch", [64, 64, 64])
        from hfm.radiome.synth import SynthesisConfig

        synthetic = (
            SynthSegDataset(
                o.get("label_maps", 20), o.get("seed", 0) + 10_000, config=SynthesisConfig(patch=tuple(patch))
            )
            if o.get("synthetic", True)
            else None
        )
        return PretrainVolumes(real_mr_volumes(), synthetic, patch, o.get("seed", 0))

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        output = model(batch["image"])
        return output.loss, {"masked_mse": float(output.loss.detach())}


def synthseg_task(options: dict[str, Any]) -> SynthSegTask:
    return SynthSegTask(options)


def mae_volumes_task(options: dict[str, Any]) -> MAEVolumesTask:
    return MAEVolumesTask(options)


def train_task(
    task: SynthSegTask | MAEVolumesTask,
    name: str,
    out_dir: str | Path,
    steps: int,
    batch_size: int = 1,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[nn.Module, dict[str, Any]]:
    """Run a task through the shared trainer (one checkpoint at the end); the trained model and the run summary."""
    options = task.options if isinstance(task.options, dict) else task.options.__dict__
    model, result = run_task(task, name, dict(options), out_dir, steps, batch_size, lr, seed, progress=False)
    return model, {"steps": result.step, "wall_s": result.wall_s}


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
    from hfm.radiome.preprocess import resample, resample_to_shape

    if np.allclose(subject.spacing, 1.0, atol=1e-3):
        return segment_subject(model, subject.image, subject.mask, patch)
    image, _ = resample(subject.image, subject.affine, (1.0, 1.0, 1.0))
    mask, _ = resample(subject.mask.astype(np.uint8), subject.affine, (1.0, 1.0, 1.0), is_label=True)
    labels = segment_subject(model, np.clip(image, 0, None), mask > 0, patch)
    out = resample_to_shape(labels, subject.image.shape, is_label=True).astype(np.uint8)
    return np.where(subject.mask, out, 0).astype(np.uint8)


def save_prediction(prediction: np.ndarray, subject: Subject, path: str | Path) -> Path:
    """Write a RAS prediction in the subject file's own voxel order and affine (MGH header kept for .mgz input)."""
    from hfm.radiome.volume import from_ras

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
