"""What `hfm radiome predict` runs: whole-volume inference with MONAI's `sliding_window_inference` (memory bounded by
the window, not the volume), on the model's plan (`predict_file`) or, for brain tissue, at 2 mm on a 1 mm T1.

`segment_subject` segments a 1 mm T1 at 2 mm: 2x2x2 mean pooling, crop to the brain mask's box, the normalisation
of training, MONAI sliding windows (Gaussian weighting), class probabilities trilinearly upsampled back to 1 mm and
fused there with the subject's own intensity clusters (`fuse_with_clusters`: k-means centres, the network as a
tempered spatial prior, fluid split by depth), kept inside the mask. `refine_with_intensities` (EM with the network as
full-strength prior) was the step before; it is kept as a function. `save_prediction` writes a prediction in the
input file's voxel order with its affine and header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from monai.inferers import sliding_window_inference
from torch import nn

from hfm.radiome.data.preprocess import resample, resample_to_shape
from hfm.radiome.readers.subjects import CSF, Subject
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
    from hfm.shared.jsonio import read_model

    missing = "missing; a segmenter exported by `hfm radiome finetune` carries its plan"
    plan = read_model(Path(model_dir) / PLAN_FILE, Plan, "a radiome plan", missing)
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


# Intensity model of each tissue class in `refine_with_intensities`: background inside a skull strip is fluid
# (sulcal CSF, which FreeSurfer leaves unlabelled) and looks like ventricular CSF on a T1, so the two share one
# Gaussian and only the network's prior tells them apart.
INTENSITY_MODEL = (0, 0, 1, 2)  # background, CSF -> fluid; GM -> 1; WM -> 2
# The networks of a few hundred CPU steps are under-confident (posteriors near uniform), so their probabilities may
# be sharpened as p^PRIOR_POWER before serving as prior. Chosen on dev subjects only (label map 20 synthesised at 1 mm
# by models trained on maps 1-19, and nilearn's MNI152 GM/WM), by the mean over three dev models: power 4 was best
# for two of them but carried the third (seed 1) network's errors to 1 mm (held-out mean Dice 0.432 vs 0.618), so
# power 1 has the better mean (0.652 vs 0.609 held-out, 0.871 vs 0.779 MNI152; docs/radiome-experiments.md,
# diagnosis). The test subjects were never used to choose it.
PRIOR_POWER = 1.0


def refine_with_intensities(
    probabilities: np.ndarray,
    image: np.ndarray,
    mask: np.ndarray,
    iterations: int = 8,
    floor: float = 1e-3,
    intensity_model: Sequence[int] = INTENSITY_MODEL,
    prior_power: float = PRIOR_POWER,
) -> np.ndarray:
    """Sharpen a network's coarse posteriors with the subject's own 1 mm intensities (EM, the network as prior).

    As atlas-guided EM segmenters do (SPM, FreeSurfer's SAMSEG, Atropos with prior images), each intensity model g
    is a Gaussian N(mu_g, sigma_g) fitted on this image; the posterior of class k at voxel x is proportional to
    prior_k(x) N(image(x); mu_g(k), sigma_g(k)), with prior_k the network's upsampled class probability raised to
    `prior_power` and floored (so an over-confident network rules no class out). The network says where
    ventricles, cortex and deep grey nuclei are; the intensities say where, at 1 mm, the boundaries lie. Returns
    (X, Y, Z) uint8 labels, 0 outside the mask. probabilities: (C, X, Y, Z) on the image's grid; image: normalised
    intensities.
    """
    group = np.asarray(intensity_model)
    if len(group) != probabilities.shape[0]:
        raise HFMError(f"refine_with_intensities: {probabilities.shape[0]} classes, intensity_model has {len(group)}")
    models = group.max() + 1
    values = image[mask].astype(np.float64)
    prior = probabilities[:, mask].astype(np.float64) ** prior_power
    prior = np.clip(prior / prior.sum(0, keepdims=True), floor, None)
    prior /= prior.sum(0, keepdims=True)
    log_prior, posterior = np.log(prior), prior
    for _ in range(iterations):
        shared = np.stack([posterior[group == g].sum(0) for g in range(models)])
        weight = shared.sum(1) + 1e-9
        mean = (shared * values).sum(1) / weight
        std = np.sqrt(np.maximum((shared * (values - mean[:, None]) ** 2).sum(1) / weight, 1e-4))
        z = (values - mean[group][:, None]) / std[group][:, None]
        log_post = log_prior - 0.5 * z**2 - np.log(std[group])[:, None]
        posterior = np.exp(log_post - log_post.max(0, keepdims=True))
        posterior /= posterior.sum(0, keepdims=True)
    out = np.zeros(mask.shape, np.uint8)
    out[mask] = posterior.argmax(0).astype(np.uint8)
    return out


# Ventricles lie deep in the brain, sulcal fluid near its surface, and on a T1 both look alike (one fluid Gaussian in
# `refine_with_intensities`); the references call only the ventricles CSF. Of the fluid the refinement calls CSF, only
# voxels deeper than this fraction of the brain mask's largest depth (distance to its edge) stay CSF, the rest become
# background. Chosen on geometry alone, on SynthSeg's label maps 1-19 (the fluid of each map, deeper than the fraction,
# against its ventricles; mean CSF Dice over the maps), and checked with two dev networks on the held-out map 20
# (docs/radiome-experiments.md, second pass); never on the test subjects. A fraction of the depth, not millimetres, so
# that brain size and a generous skull strip move it less.
VENTRICLE_DEPTH = 0.45


def mask_depth(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance in voxels from each voxel of `mask` to the nearest voxel outside it (the volume's border
    counts as outside); 0 outside the mask. The depth every fluid rule below measures against its largest value."""
    from scipy.ndimage import distance_transform_edt

    return distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1, 1:-1]


def keep_deep_csf(labels: np.ndarray, mask: np.ndarray, fraction: float = VENTRICLE_DEPTH) -> np.ndarray:
    """CSF voxels closer to the mask's edge than `fraction` of its largest depth -> background (0); a copy.

    Depth is the Euclidean distance in voxels to the nearest voxel outside `mask` (the volume's border counts as
    outside). fraction 0 keeps every CSF voxel.
    """
    if not 0 <= fraction < 1:
        raise HFMError(f"keep_deep_csf: fraction must lie in [0, 1), got {fraction}")
    out = labels.copy()
    if fraction == 0 or not mask.any():
        return out
    depth = mask_depth(mask)
    out[(labels == CSF) & (depth <= fraction * depth.max())] = 0
    return out


# Weight of the network's log-posterior against the intensity term in `fuse_with_clusters`. Chosen on dev data only
# (SynthSeg's held-out label map 20 synthesised at 1 mm and nilearn's MNI152, two dev networks trained on maps 1-19 for
# the benchmark's 80 steps, seeds 0 and 1), by the mean over the two dev networks of 0.25 / 0.5 / 1: held-out mean Dice
# 0.788 / 0.788 / 0.787, MNI152 GM/WM 0.913 / 0.908 / 0.900 (docs/radiome-experiments.md, third pass). Weight 0 is
# k-means with the deep-CSF rule itself. The test subjects were never used to choose it.
PRIOR_WEIGHT = 0.25
# Which fluid is ventricle: the whole-head 4 mm network knows where the ventricles are (held-out map 20: 0.75 of
# ventricle voxels right, against 0.54 for depth alone), so a fluid voxel is CSF where the network's CSF
# probability beats its background one and the voxel is deeper than this fraction of the mask's largest depth (no
# ventricle lies in the outer quarter; the depth cuts the network's coarse 4 mm spill onto sulci). Chosen on dev
# only (docs/radiome-experiments.md, fourth pass); `fluid="depth"` is the former rule (`keep_deep_csf`, 0.45).
NETWORK_FLUID_DEPTH = 0.25
# `fluid="depth-or-head"` (twelfth pass, docs/radiome-experiments.md): a fluid voxel is CSF if deeper than
# `VENTRICLE_DEPTH`, or deeper than SPLIT_DEPTH where the network's ventricle logit (its extra output channel,
# `tasks.ventricle_loss`) exceeds SPLIT_LOGIT: depth alone misses the shallower parts of the ventricles. The values are
# those of the ninth pass's search (dev maps 11-16) on a ventricle-weighted network's log(p_CSF / p_bg), which the
# positive weight of the head's loss makes the logit's analogue; never chosen on the test subjects.
SPLIT_DEPTH = 0.35
SPLIT_LOGIT = 2.0
# `fluid="depth-or-head-connected"` (thirteenth pass, docs/radiome-experiments.md): the depth-or-head split, then
# `connect_ventricles`. The ventricles are a few large fluid systems whose horns reach shallower than the depth rule;
# what lies deep but apart from them (insular cisterns, deep sulci) is small. The three values were chosen on the
# training label maps 1-10 alone (k-means fluid of their synthetic images, no network), then passed a dev rule on
# held-out maps; never chosen on the test subjects. A relative size cut, not a voxel count: a fixed count deleted
# every ventricle voxel of a training map with small ventricles.
CONNECT_DEPTH = 0.35
CONNECT_STEPS = 3
CONNECT_RATIO = 0.2
FLUID_RULES = ("depth", "network", "depth-or-head", "depth-or-head-connected")
HEAD_RULES = ("depth-or-head", "depth-or-head-connected")  # the fluid rules that read a ventricle logit


def connect_ventricles(
    labels: np.ndarray,
    mask: np.ndarray,
    floor: float = CONNECT_DEPTH,
    steps: int = CONNECT_STEPS,
    ratio: float = CONNECT_RATIO,
    depth: np.ndarray | None = None,
) -> np.ndarray:
    """Fluid split by connectivity, after a depth split: a copy of `labels` with its fluid relabelled.

    Fluid is every voxel of `mask` labelled background (0) or CSF. CSF voxels are seeds; fluid deeper than `floor` of
    the mask's largest depth that a seed reaches in at most `steps` 6-connected steps through such fluid becomes CSF
    (the horns of a deep ventricle); then each 6-connected CSF component smaller than `ratio` times the largest one
    goes back to background (deep pockets apart from the ventricles). GM and WM are never changed. `depth`:
    `mask_depth(mask)` where the caller has it already (the fusion does).
    """
    from scipy.ndimage import binary_dilation, generate_binary_structure, label

    if not 0 <= floor < 1 or steps < 0 or not 0 <= ratio <= 1:
        raise HFMError(
            f"connect_ventricles: need 0 <= floor < 1, steps >= 0, 0 <= ratio <= 1; got {floor, steps, ratio}"
        )
    fluid = mask & (labels <= CSF)
    csf = fluid & (labels == CSF)
    if not csf.any():
        return labels.copy()
    if depth is None:
        depth = mask_depth(mask)
    elif depth.shape != mask.shape:
        raise HFMError(f"connect_ventricles: depth {depth.shape} is not on the mask's grid {mask.shape}")
    reachable = fluid & (depth > floor * depth.max())
    faces = generate_binary_structure(3, 1)
    for _ in range(steps):
        grown = csf | (binary_dilation(csf, faces) & reachable)
        if np.array_equal(grown, csf):
            break
        csf = grown
    parts, _ = label(csf, faces)
    sizes = np.bincount(parts.ravel())
    sizes[0] = 0
    csf &= sizes[parts] >= ratio * sizes.max()
    out = labels.copy()
    out[fluid] = np.where(csf[fluid], CSF, 0)
    return out


def fuse_with_clusters(
    probabilities: np.ndarray,
    image: np.ndarray,
    mask: np.ndarray,
    prior_weight: float = PRIOR_WEIGHT,
    floor: float = 1e-3,
    intensity_model: Sequence[int] = INTENSITY_MODEL,
    seed: int = 0,
    fluid: str = "depth",
    min_depth: float = NETWORK_FLUID_DEPTH,
    ventricle_logit: np.ndarray | None = None,
) -> np.ndarray:
    """The network's 1 mm posteriors as a tempered spatial prior on the subject's own intensity clusters.

    Three intensity classes (fluid, GM, WM) are the subject's k-means centres on its masked intensities, with one
    shared spread (the root mean square distance to the assigned centre), so that weight 0 decides GM/WM/fluid
    exactly as k-means does. Class k at voxel x scores prior_weight * log p_k(x) - (image(x) - mu_g(k))^2 /
    (2 sigma^2), with p_k the network's probability floored at `floor`; the arg-max is kept. A fluid voxel
    (background or CSF) is then split: `fluid="network"`, CSF where p_CSF > p_background and the depth is above
    `min_depth` of the mask's largest depth (what the coarse whole-head network knows: which fluid is ventricle);
    `fluid="depth"`, CSF where deeper than `VENTRICLE_DEPTH` (`keep_deep_csf`; the rule of the 2 mm patch networks,
    whose own split lost to depth alone on dev); `fluid="depth-or-head"`, CSF where deeper than `VENTRICLE_DEPTH`, or
    deeper than `SPLIT_DEPTH` with `ventricle_logit` (X, Y, Z; the network's extra channel at 1 mm) above
    `SPLIT_LOGIT`; `fluid="depth-or-head-connected"`, that split followed by `connect_ventricles`. `probabilities`
    alone set the prior. Returns (X, Y, Z) uint8 labels, 0 outside the mask.
    """
    from sklearn.cluster import KMeans

    group = np.asarray(intensity_model)
    if len(group) != probabilities.shape[0]:
        raise HFMError(f"fuse_with_clusters: {probabilities.shape[0]} classes, intensity_model has {len(group)}")
    if fluid not in FLUID_RULES:
        raise HFMError(f"fuse_with_clusters: fluid must be one of {', '.join(FLUID_RULES)}, got {fluid!r}")
    if (fluid in HEAD_RULES) != (ventricle_logit is not None):
        raise HFMError(f"fuse_with_clusters: a ventricle_logit goes with fluid in {HEAD_RULES}, and only with it")
    if ventricle_logit is not None and ventricle_logit.shape != mask.shape:
        raise HFMError(f"fuse_with_clusters: ventricle_logit {ventricle_logit.shape} is not on the mask's grid")
    values = image[mask].astype(np.float64)
    clusters = KMeans(n_clusters=group.max() + 1, n_init=4, random_state=seed).fit(values[:, None])
    centres = clusters.cluster_centers_[:, 0]
    sigma = max(float(np.sqrt(np.mean((values - centres[clusters.labels_]) ** 2))), 1e-6)
    means = np.sort(centres)[group]  # darkest centre = fluid
    prior = probabilities[:, mask].astype(np.float64)
    prior = np.clip(prior / np.maximum(prior.sum(0, keepdims=True), 1e-12), floor, None)
    prior /= prior.sum(0, keepdims=True)
    score = prior_weight * np.log(prior) - 0.5 * ((values - means[:, None]) / sigma) ** 2
    chosen = score.argmax(0)
    is_fluid = group[chosen] == 0
    labels = chosen.astype(np.uint8)
    out = np.zeros(mask.shape, np.uint8)
    if fluid == "depth":
        labels[is_fluid] = CSF
        out[mask] = labels
        return keep_deep_csf(out, mask)
    full_depth = mask_depth(mask)  # computed once: the connectivity rule measures the same depth
    depth = full_depth[mask]
    if ventricle_logit is None:
        ventricle = (prior[CSF] > prior[0]) & (depth > min_depth * depth.max())
    else:
        confident = (depth > SPLIT_DEPTH * depth.max()) & (ventricle_logit[mask] > SPLIT_LOGIT)
        ventricle = (depth > VENTRICLE_DEPTH * depth.max()) | confident
    labels[is_fluid] = np.where(ventricle[is_fluid], CSF, 0)
    out[mask] = labels
    return connect_ventricles(out, mask, depth=full_depth) if fluid == "depth-or-head-connected" else out


@torch.no_grad()
def segment_subject_variants(
    model: nn.Module,
    image: np.ndarray,
    mask: np.ndarray,
    patch: Sequence[int] = (64, 64, 64),
    overlap: float = 0.5,
    factor: int = 2,
    fluid: str = "depth",
    ventricle_head: bool = False,
) -> dict[str, np.ndarray]:
    """(X, Y, Z) 1 mm T1, brain mask -> {"refined", "network"}: (X, Y, Z) uint8 tissue classes, 0 outside the mask.

    The network works at `factor` mm (mean pooling of the 1 mm crop; 2 for the 2 mm patch networks, 4 for the
    whole-head ones, whose 48^3 window holds a whole brain). "network": the arg-max of its posteriors upsampled to
    1 mm; "refined": the same posteriors fused with the subject's 1 mm intensity clusters (`fuse_with_clusters`,
    fluid split by `fluid`), what `segment_subject` returns. `ventricle_head`: the model's last output channel is a
    ventricle logit (`Posteriors.ventricle_logit`), not a tissue class.
    """
    posteriors = subject_posteriors(model, image, mask, patch, overlap, factor, ventricle_head)
    return {
        "network": posteriors.labels(posteriors.probabilities.argmax(0).astype(np.uint8)),
        "refined": posteriors.fused(fluid),
    }


@dataclass
class Posteriors:
    """A network's class probabilities upsampled to 1 mm in the brain mask's box, with what the fusion needs."""

    probabilities: np.ndarray  # (C, x, y, z) on the box
    crop: np.ndarray  # the 1 mm image in the box, 0 outside the mask
    box: tuple[slice, ...]
    mask: np.ndarray  # the whole mask (the image's grid)
    ventricle_logit: np.ndarray | None = None  # (x, y, z) on the box: a two-head network's ventricle logit at 1 mm

    def labels(self, box_labels: np.ndarray) -> np.ndarray:
        """Labels on the box -> the image's grid, 0 outside the mask."""
        whole = np.zeros(self.mask.shape, np.uint8)
        whole[self.box] = box_labels
        whole[~self.mask] = 0
        return whole

    def fused(self, fluid: str = "depth") -> np.ndarray:
        """`fuse_with_clusters` of these posteriors with the 1 mm intensities, on the image's grid."""
        crop, mask, logit = normalise_t1(self.crop), self.mask[self.box], self.ventricle_logit
        logit = logit if fluid in HEAD_RULES else None  # the head is read by those fluid rules only
        fused = fuse_with_clusters(self.probabilities, crop, mask, fluid=fluid, ventricle_logit=logit)
        return self.labels(fused)


@torch.no_grad()
def subject_posteriors(
    model: nn.Module,
    image: np.ndarray,
    mask: np.ndarray,
    patch: Sequence[int] = (64, 64, 64),
    overlap: float = 0.5,
    factor: int = 2,
    ventricle_head: bool = False,
) -> Posteriors:
    """Crop to the mask's box, mean-pool by `factor`, normalise, sliding windows, probabilities back at 1 mm.

    One network pass that several fusions can share (`Posteriors.fused`; the dev evaluation compares fluid rules).
    `ventricle_head`: the last channel is a ventricle logit: the softmax is over the other channels, and the logit
    comes back at 1 mm as logit(trilinear upsampling of its sigmoid), as probabilities are upsampled.
    """
    if not mask.any():
        raise HFMError("segment_subject: the brain mask is empty")
    model.eval()
    box = _box(mask, factor)
    crop = np.where(mask[box], image[box], 0).astype(np.float32)
    pad = [(0, -s % factor) for s in crop.shape]
    coarse = torch.nn.functional.avg_pool3d(torch.as_tensor(np.pad(crop, pad))[None, None], factor)
    coarse = torch.as_tensor(normalise_t1(coarse[0, 0].numpy()))[None, None]
    logits = sliding_window_inference(coarse, tuple(patch), 2, model, overlap=overlap, mode="gaussian")
    size = tuple(s + p[1] for s, p in zip(crop.shape, pad, strict=True))
    tissue = logits[:, :-1] if ventricle_head else logits
    maps = tissue.softmax(1)
    if ventricle_head:
        maps = torch.cat([maps, logits[:, -1:].sigmoid()], 1)
    upsampled = torch.nn.functional.interpolate(maps, size=size, mode="trilinear")[0]
    upsampled = upsampled[(slice(None), *(slice(0, s) for s in crop.shape))].numpy()
    if not ventricle_head:
        return Posteriors(upsampled, crop, box, mask)
    q = upsampled[-1]
    logit = np.log(q + 1e-6) - np.log(1 - q + 1e-6)
    return Posteriors(np.ascontiguousarray(upsampled[:-1]), crop, box, mask, logit.astype(np.float32))


def segment_subject(
    model: nn.Module,
    image: np.ndarray,
    mask: np.ndarray,
    patch: Sequence[int] = (64, 64, 64),
    overlap: float = 0.5,
    factor: int = 2,
    fluid: str = "depth",
    ventricle_head: bool = False,
) -> np.ndarray:
    """(X, Y, Z) 1 mm T1, brain mask -> (X, Y, Z) uint8 tissue classes on the same grid (0 outside the mask).

    Crop to the mask's box, mean pooling to `factor` mm, the training normalisation, MONAI sliding windows
    (Gaussian weighting), class probabilities trilinearly upsampled to 1 mm, then fused with the 1 mm intensity
    clusters.
    """
    return segment_subject_variants(model, image, mask, patch, overlap, factor, fluid, ventricle_head)["refined"]


def segment_any_grid(
    model: nn.Module,
    subject: Subject,
    patch: Sequence[int] = (64, 64, 64),
    factor: int = 2,
    fluid: str = "depth",
    ventricle_head: bool = False,
) -> np.ndarray:
    """`segment_subject` for a subject on any grid: resampled to 1 mm first, the labels brought back (nearest)."""
    how = {"factor": factor, "fluid": fluid, "ventricle_head": ventricle_head}
    if np.allclose(subject.spacing, 1.0, atol=1e-3):
        return segment_subject(model, subject.image, subject.mask, patch, **how)
    image, _ = resample(subject.image, subject.affine, (1.0, 1.0, 1.0))
    mask, _ = resample(subject.mask.astype(np.uint8), subject.affine, (1.0, 1.0, 1.0), is_label=True)
    labels = segment_subject(model, np.clip(image, 0, None), mask > 0, patch, **how)
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
