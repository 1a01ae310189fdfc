"""Training images synthesised from real anatomy by domain randomisation, as SynthSeg does (Billot et al. 2023).

From SynthSeg's 20 whole-head label maps (`radiome/synthseg/data/training_label_maps`, 256^3 at 1 mm, FreeSurfer
labels plus extra-cerebral ones) every sample is drawn afresh:
1. a label map (from the subset in use), a random crop centred on a brain voxel;
2. one random affine + smooth elastic deformation of the labels (coarse random field, nearest neighbour);
3. per-label intensities from a Gaussian mixture: each generation class (SynthSeg's
   `generation_classes_contrast_specific`) draws its mean and standard deviation from the T1 priors in
   `prior_means_t1.npy` / `prior_stds_t1.npy` (rows: mean, spread of a normal), every voxel its own value;
4. with probability `skull_strip` the extra-cerebral labels are set to 0 (the test inputs are skull-stripped);
5. slice thickness 1-5 mm along a random axis (Gaussian blur of that width, resampled down and back up), a little
   extra isotropic blur, a multiplicative bias field (MONAI `RandBiasField`), Gaussian noise (`RandGaussianNoise`),
   a gamma curve, then the normalisation used at test time (`normalise_t1`).
Labels are SynthSeg's maps through the FreeSurfer -> tissue mapping of `hfm.radiome.readers.subjects`, with one training
exception (`SYNTHSEG_OVERRIDES`).

Work happens on a 2 mm grid (the label maps taken at every second voxel); with `SynthesisConfig.pool` = 2 the
finished image is mean-pooled to 4 mm (majority labels), the grid of the coarse whole-head networks.
`SynthSegDataset[i]` is a pure function of (seed, i) (resume-exact under the shared trainer);
`SynthSegStream` iterates it from any start index: a new image every step, reproducible from its seed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai import transforms as mt
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from hfm.radiome.readers.subjects import BACKGROUND, CSF, freesurfer_to_tissue
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import require_data

LABEL_MAPS = "radiome/synthseg/data/training_label_maps"
PRIORS = "radiome/synthseg/data/labels_classes_priors"
GRID_MM = 2.0
# SynthSeg's label 24 is all extra-ventricular CSF (about 400k voxels per map); FreeSurfer's aseg, which the test
# references come from, gives 24 only a small region (about 1k voxels) and leaves sulcal CSF unlabelled. To train
# for the references' notion of CSF (ventricles), 24 is background in the training maps.
SYNTHSEG_OVERRIDES = {24: BACKGROUND}


def label_map_paths(count: int | None = None, folder: Path | None = None) -> list[Path]:
    """The first `count` label maps (`training_seg_*.nii.gz`, sorted) of `folder`, by default SynthSeg's 20."""
    folder = require_data(LABEL_MAPS) if folder is None else Path(folder)
    paths = sorted(folder.glob("training_seg_*.nii.gz"))
    if not paths:
        raise HFMError(f"{folder}: no training_seg_*.nii.gz label maps")
    if count is not None and not 1 <= count <= len(paths):
        raise HFMError(f"label maps: asked for {count}, {folder} holds {len(paths)}")
    return paths[:count] if count else paths


@lru_cache(maxsize=32)
def load_label_map(path: str) -> np.ndarray:
    """A label map in RAS on the 2 mm grid (every second voxel: labels are never averaged), int16."""
    image = nib.as_closest_canonical(nib.load(path))
    step = max(1, round(GRID_MM / float(np.linalg.norm(image.affine[:3, 0]))))
    labels = np.asarray(image.dataobj)[::step, ::step, ::step]
    if labels.dtype.kind == "f" and np.any(labels != np.round(labels)):
        raise HFMError(f"{path}: label map holds non-integer values")
    return labels.astype(np.int16)


@dataclass(frozen=True)
class Priors:
    """SynthSeg's generation labels, their contrast-specific classes and the T1 intensity priors per class."""

    labels: np.ndarray  # (L,) FreeSurfer labels the generator knows
    classes: np.ndarray  # (L,) generation class of each label
    means: np.ndarray  # (2, K): mean and spread of each class's mean intensity (0-255 scale)
    stds: np.ndarray  # (2, K): mean and spread of each class's standard deviation

    @classmethod
    def load(cls) -> Priors:
        folder = require_data(PRIORS)
        labels = np.load(folder / "generation_labels.npy")
        classes = np.load(folder / "generation_classes_contrast_specific.npy")
        means, stds = np.load(folder / "prior_means_t1.npy"), np.load(folder / "prior_stds_t1.npy")
        if labels.shape != classes.shape or means.shape != stds.shape or means.shape[1] <= classes.max():
            raise HFMError(f"{folder}: generation labels, classes and T1 priors do not match in size")
        return cls(labels.astype(int), classes.astype(int), means, stds)

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One image's mixture: a mean (0-255) and a standard deviation (>= 1) per generation class."""
        means = rng.normal(self.means[0], self.means[1]).clip(0, 255)
        stds = np.abs(rng.normal(self.stds[0], self.stds[1])).clip(1.0, None)
        return means, stds

    def class_lookup(self, max_label: int) -> np.ndarray:
        """FreeSurfer label -> generation class; labels the priors do not list fall into class 0 (background)."""
        lut = np.zeros(max_label + 1, np.int64)
        known = self.labels <= max_label
        lut[self.labels[known]] = self.classes[known]
        return lut


def sample_mixture(
    classes: torch.Tensor, means: np.ndarray, stds: np.ndarray, rng: np.random.Generator
) -> torch.Tensor:
    """Every voxel of class k draws its value from N(means[k], stds[k]^2)."""
    k = torch.as_tensor(classes).long().clamp(0, len(means) - 1)
    noise = torch.as_tensor(rng.standard_normal(tuple(k.shape)), dtype=torch.float32)
    return torch.as_tensor(means, dtype=torch.float32)[k] + torch.as_tensor(stds, dtype=torch.float32)[k] * noise


def normalise_t1(image: np.ndarray) -> np.ndarray:
    """Divide by the 99th percentile of the non-zero voxels, clip to [0, 1.5]: the same for synthetic and real."""
    image = np.clip(np.asarray(image, np.float32), 0, None)
    foreground = image[image > 0]
    scale = float(np.percentile(foreground, 99)) if foreground.size else 1.0
    return np.clip(image / max(scale, 1e-6), 0, 1.5).astype(np.float32)


def _thickness_blur(image: torch.Tensor, thickness_vox: float, axis: int, extra_sigma: float) -> torch.Tensor:
    """Simulate slices `thickness_vox` voxels thick along `axis`: blur, sample at that spacing, back to the grid."""
    sigma = [extra_sigma] * 3
    sigma[axis] = max(extra_sigma, 0.42 * thickness_vox)  # FWHM ~ slice thickness
    blurred = mt.GaussianSmooth(sigma=sigma)(image)
    if thickness_vox <= 1.05:
        return blurred
    shape = list(image.shape[1:])
    coarse = list(shape)
    coarse[axis] = max(2, round(shape[axis] / thickness_vox))
    down = torch.nn.functional.interpolate(blurred[None], size=coarse, mode="trilinear", align_corners=False)
    return torch.nn.functional.interpolate(down, size=shape, mode="trilinear", align_corners=False)[0]


def deform(stack: torch.Tensor, c: SynthesisConfig, rng: np.random.Generator) -> torch.Tensor:
    """Random affine + smooth elastic deformation of (C, X, Y, Z) labels, nearest neighbour, to a `c.patch` crop.

    As SynthSeg does, the displacement is drawn on a coarse grid (`elastic_points`^3) and upsampled: MONAI's
    `Rand3DElastic` smooths a full-resolution field instead, 0.7 s per 64^3 sample on one core.
    """
    angles = np.deg2rad(rng.uniform(-c.rotate_deg, c.rotate_deg, 3))
    rotation = np.eye(3)
    for axis, angle in enumerate(angles):
        a, b = [i for i in range(3) if i != axis]
        r = np.eye(3)
        r[a, a] = r[b, b] = np.cos(angle)
        r[a, b], r[b, a] = -np.sin(angle), np.sin(angle)
        rotation = rotation @ r
    shear = np.eye(3) + rng.uniform(-c.shear, c.shear, (3, 3)) * (1 - np.eye(3))
    scale = np.diag(1.0 + rng.uniform(-c.scale, c.scale, 3))
    in_shape, out_shape = np.asarray(stack.shape[1:]), np.asarray(c.patch)
    # normalised output coordinates -> normalised input coordinates: patch-sized window at the centre of the input
    linear = np.diag(1.0 / in_shape) @ rotation @ shear @ scale @ np.diag(out_shape)
    theta = torch.zeros(1, 3, 4)
    theta[0, :, :3] = torch.as_tensor(linear[::-1, ::-1].copy())  # grid_sample's coordinates run (z, y, x)
    grid = torch.nn.functional.affine_grid(theta, [1, 1, *c.patch], align_corners=False)
    magnitude = rng.uniform(*c.elastic_magnitude)  # voxels
    coarse = rng.standard_normal((1, 3, *(c.elastic_points,) * 3)) * magnitude
    field = torch.nn.functional.interpolate(
        torch.as_tensor(coarse, dtype=torch.float32), size=tuple(c.patch), mode="trilinear", align_corners=True
    )
    field = field * torch.as_tensor(2.0 / in_shape[::-1].copy(), dtype=torch.float32).view(1, 3, 1, 1, 1)
    grid = grid + field.permute(0, 2, 3, 4, 1)
    out = torch.nn.functional.grid_sample(
        stack[None].float(), grid, mode="nearest", padding_mode="zeros", align_corners=False
    )
    return out[0]


@dataclass
class SynthesisConfig:
    patch: tuple[int, int, int] = (64, 64, 64)  # voxels of the 2 mm grid
    rotate_deg: float = 15.0
    scale: float = 0.15
    shear: float = 0.012
    elastic_points: int = 6  # control points of the displacement field per axis
    elastic_magnitude: tuple[float, float] = (0.0, 2.0)  # standard deviation of the displacement, voxels
    thickness_mm: tuple[float, float] = (1.0, 5.0)
    blur_sigma: tuple[float, float] = (0.0, 0.5)  # extra isotropic blur, voxels
    bias_coeff: tuple[float, float] = (0.0, 0.3)
    noise_std: tuple[float, float] = (0.0, 10.0)  # 0-255 scale, as SynthSeg
    gamma_std: float = 0.3  # exp(N(0, gamma_std)) exponent
    skull_strip: float = 0.7
    # >1: the finished 2 mm image is mean-pooled by this factor (4 mm at 2: a whole head in a 48^3 patch, for the
    # coarse network) and each coarse voxel is labelled by the majority of its 2 mm labels
    pool: int = 1


def ventricle_pos_weight(maps: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """f_background / f_CSF over the head voxels (FreeSurfer label > 0) of (labels, tissue) pairs of all the maps.

    The positive weight of the ventricle head's binary cross-entropy (tasks.ventricle_loss): the ratio w_CSF / w_bg
    of median-frequency class weights, so that the head's logit has, at its optimum, the offset log(w_CSF / w_bg)
    that a class-weighted network's log(p_CSF / p_bg) has (docs/radiome-experiments.md, twelfth pass).
    """
    counts = np.zeros(2)
    for labels, tissue in maps:
        head = tissue[labels > 0]
        counts += [np.count_nonzero(head == BACKGROUND), np.count_nonzero(head == CSF)]
    if (counts == 0).any():
        raise HFMError(f"ventricle_pos_weight: no {'background' if counts[0] == 0 else 'CSF'} voxel in the maps")
    return float(counts[0] / counts[1])


class SynthSegDataset(Dataset):
    """Map-style: item i is a fresh synthetic (image, tissue label) pair, a pure function of (seed, i).

    `label_maps` chooses how many of the real maps feed the generator (label efficiency: 1, 2, 5, 10, 20).
    Items: {"image": (1, X, Y, Z) float32 normalised, "label": (X, Y, Z) int64 tissue class}.
    """

    def __init__(
        self,
        label_maps: int | None = None,
        seed: int = 0,
        length: int = 10**9,
        config: SynthesisConfig | None = None,
        paths: Sequence[Path] | None = None,
    ) -> None:
        self.paths = [str(p) for p in (paths if paths is not None else label_map_paths(label_maps))]
        self.seed, self.length = seed, length
        self.config = config or SynthesisConfig()
        self.priors = Priors.load()
        c = self.config
        self.bias = mt.RandBiasField(coeff_range=c.bias_coeff, prob=1.0)
        self.noise = mt.RandGaussianNoise(prob=1.0, mean=0.0, std=1.0, sample_std=False)

    def __len__(self) -> int:
        return self.length

    def labels(self, path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(FreeSurfer labels, generation classes, tissue classes) of one map on the 2 mm grid."""
        labels = load_label_map(path)
        classes = self.priors.class_lookup(int(labels.max()))[labels]
        tissue = freesurfer_to_tissue(labels, path)
        for label, value in SYNTHSEG_OVERRIDES.items():
            tissue[labels == label] = value
        return labels, classes, tissue

    def ventricle_pos_weight(self) -> float:
        """`ventricle_pos_weight` of the maps in use."""
        return ventricle_pos_weight([(m[0], m[2]) for m in map(self.labels, self.paths)])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, int(index)])
        c = self.config
        path = self.paths[int(rng.integers(len(self.paths)))]
        labels, classes, tissue = self.labels(path)
        # 1. crop a box 1.5x the patch around a random brain voxel (room for the deformation to draw from)
        brain = np.flatnonzero(tissue > 0)
        centre = np.array(np.unravel_index(brain[rng.integers(brain.size)], tissue.shape))
        half = (np.asarray(c.patch) * 3) // 4
        low = np.clip(centre - half, 0, None)
        box = tuple(slice(int(a), int(b)) for a, b in zip(low, centre + half, strict=True))
        # extra-cerebral: labelled, not brain tissue, not the CSF around the brain (a skull strip keeps some of it)
        extra = (labels[box] > 0) & (tissue[box] == 0) & ~np.isin(labels[box], list(SYNTHSEG_OVERRIDES))
        stack = np.stack([classes[box], tissue[box], extra]).astype(np.float32)
        # 2. one deformation for all three channels (generation class, tissue, extra-cerebral)
        deformed = deform(torch.as_tensor(stack), c, rng).round().long()
        gen_class, label, extra = deformed[0], deformed[1], deformed[2].bool()
        # 3. Gaussian mixture: per-class mean and std from the T1 priors, then a value per voxel
        means, stds = self.priors.draw(rng)
        image = sample_mixture(gen_class, means, stds, rng)
        # 4. skull-stripped like the test inputs, most of the time
        outside = (gen_class == 0) | (extra if rng.random() < c.skull_strip else torch.zeros_like(extra))
        image[outside] = 0.0
        # 5. acquisition: slice thickness along one axis, blur, bias field, noise, gamma, normalisation
        thickness = rng.uniform(*c.thickness_mm) / GRID_MM
        image = _thickness_blur(image[None].clamp(min=0), thickness, int(rng.integers(3)), rng.uniform(*c.blur_sigma))
        self.bias.set_random_state(seed=int(rng.integers(2**31)))
        image = self.bias(image)
        self.noise.set_random_state(seed=int(rng.integers(2**31)))
        self.noise.std = float(rng.uniform(*c.noise_std))
        image = torch.as_tensor(self.noise(image)).clamp(min=0)
        image = image / image.max().clamp(min=1e-6)
        image = image ** float(np.exp(rng.normal(0.0, c.gamma_std)))
        image[0][outside] = 0.0
        if c.pool > 1:  # pooled before the normalisation, as real inputs are (`segment_subject_variants`)
            image = torch.nn.functional.avg_pool3d(image[None], c.pool)[0]
            votes = torch.nn.functional.one_hot(label, int(label.max()) + 1).permute(3, 0, 1, 2).float()
            label = torch.nn.functional.avg_pool3d(votes[None], c.pool)[0].argmax(0)
        image = torch.as_tensor(normalise_t1(image.numpy()))
        return {"image": image.float(), "label": label.long()}


class SynthSegStream(IterableDataset):
    """Endless stream over `SynthSegDataset`: a new image at every step, the same sequence for the same seed.

    With several DataLoader workers each takes every n-th index, so the stream is the same whatever the worker count.
    """

    def __init__(self, dataset: SynthSegDataset, start: int = 0) -> None:
        self.dataset, self.start = dataset, start

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        index = self.start + worker
        while True:
            yield self.dataset[index]
            index += workers
