"""Curating an nnU-Net raw dataset into an AI-ready one: checked, resampled, normalised, with its card.

Each case is read in RAS, checked (missing channel, unreadable file, NaN, empty or constant image, degenerate
affine, label and image disagreeing in shape or affine, label values that dataset.json does not declare), then
resampled to the plan's target spacing (cubic for images, nearest for labels) and normalised per modality. Failing
cases are quarantined with every reason found; the output is again an nnU-Net raw dataset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from hfm.radiome.contract import volume_contract
from hfm.radiome.data.preprocess import normalize, resample
from hfm.radiome.format import FORMAT_NAME, DatasetJson, NnunetRawWriter, RawCase, list_cases, read_dataset_json
from hfm.radiome.readers.volume import affine_problem, read_nifti
from hfm.shared.contracts import Sample, Violation
from hfm.shared.curate_driver import CuratedDataset, CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem, rejected_item
from hfm.shared.errors import InvalidInput
from hfm.shared.safety.inputs import list_inputs
from hfm.shared.safety.paths import inside
from hfm.shared.shard_curation import Sharding

_AFFINE_TOLERANCE_MM = 1e-3


def check_case(
    image: np.ndarray,
    label: np.ndarray | None,
    affine: np.ndarray,
    label_affine: np.ndarray | None,
    allowed_labels: set[int],
) -> list[Violation]:
    """Every reason why a case cannot be used, on its native grid."""
    found: list[Violation] = []
    if image.size == 0:
        return [Violation(field="image", code="empty", reason="image has no voxels")]
    if problem := affine_problem(affine):
        found.append(Violation(field="affine", code="affine", reason=problem))
    nan = int(np.isnan(image).sum())
    if nan:
        found.append(Violation(field="image", code="nan", reason=f"{nan} NaN voxels of {image.size}"))
    inf = int(np.isinf(image).sum())
    if inf:  # resampling would smear it over the volume and normalisation turn the image to zeros
        found.append(Violation(field="image", code="inf", reason=f"{inf} infinite voxels of {image.size}"))
    finite = image[np.isfinite(image)]
    if finite.size == 0 or float(finite.max()) == float(finite.min()):
        value = float(finite.min()) if finite.size else float("nan")
        found.append(Violation(field="image", code="constant", reason=f"every voxel has the value {value:g}"))
    if label is None:
        return found
    if label.shape != image.shape[1:]:
        found.append(
            Violation(
                field="label",
                code="shape",
                reason=f"label shape {label.shape} differs from image shape {image.shape[1:]}",
            )
        )
    if label_affine is not None and not np.allclose(label_affine, affine, atol=_AFFINE_TOLERANCE_MM):
        offset = float(np.abs(np.asarray(label_affine) - np.asarray(affine)).max())
        found.append(
            Violation(
                field="label", code="affine", reason=f"label affine differs from the image's (up to {offset:.4g} mm)"
            )
        )
    values = set(np.unique(label).astype(int).tolist())
    if extra := sorted(values - allowed_labels):
        found.append(
            Violation(
                field="label",
                code="label_values",
                reason=f"values {extra} not declared in dataset.json labels {sorted(allowed_labels)}",
            )
        )
    return found


def load_curated_case(case: RawCase, info: DatasetJson, target_spacing: tuple[float, float, float]) -> Sample:
    """Read, check, resample and normalise one case; raises InvalidInput naming every problem found."""
    missing = [str(p) for p in case.images if not p.exists()]
    if missing:
        raise InvalidInput(f"missing channel file(s) {', '.join(missing)}", field="image", code="missing")
    for path in [*case.images, *([case.label] if case.label is not None else [])]:
        if not inside(path.parent.parent, path):  # imagesTr/x.nii.gz -> the raw dataset folder
            reason = f"{path.name} is a symlink leading outside the dataset folder"
            raise InvalidInput(reason, field="image", code="symlink_escape")
    volumes = [read_nifti(p, modality=info.modality()) for p in case.images]
    shapes = {v.shape for v in volumes}
    if len(shapes) > 1:
        raise InvalidInput(f"channels have different shapes {sorted(shapes)}", field="image", code="shape")
    image = np.stack([np.asarray(v.array, dtype=np.float32) for v in volumes])
    affine = volumes[0].affine
    label = label_affine = None
    if case.label is not None:
        if not case.label.exists():
            raise InvalidInput(f"label file {case.label} is missing", field="label", code="missing")
        label_volume = read_nifti(case.label)
        label, label_affine = np.asarray(label_volume.array), label_volume.affine
    violations = check_case(image, label, affine, label_affine, info.label_values())
    if violations:
        raise InvalidInput("; ".join(str(v) for v in violations), field=violations[0].field, code=violations[0].code)
    resampled, new_affine = resample(image, affine, target_spacing)
    foreground = resampled[0] > resampled[0].min()
    arrays = {"image": np.stack([normalize(c, info.modality(), foreground) for c in resampled])}
    if label is not None:
        arrays["label"] = resample(label.astype(np.uint8), affine, target_spacing, is_label=True)[0]
    return Sample(arrays=arrays, attrs={"affine": new_affine.ravel().tolist(), "split": case.split})


def _stray_files(raw_root: Path, cases: list[RawCase], file_ending: str) -> list[CurationItem]:
    """Files of the layout's folders that no case uses: inputs too, quarantined with why (never silently skipped)."""
    used = {p for case in cases for p in (*case.images, case.label) if p is not None}
    stray = []
    for folder in ("imagesTr", "imagesTs", "labelsTr"):
        if not (raw_root / folder).is_dir():
            continue
        for entry in list_inputs(raw_root / folder):
            if entry.path in used:  # a case file, symlink or not: its case says why it fails
                continue
            code, reason = entry.code, entry.reason
            if code is None and not entry.path.name.endswith(file_ending):
                code, reason = "unsupported_format", f"not a {file_ending} file, the dataset.json file_ending"
            elif code is None and folder != "labelsTr":
                code, reason = "bad_name", f"name must be <CASE>_<XXXX>{file_ending} (channel number of 4 digits)"
            elif code is None:
                code, reason = "orphan", f"no case of imagesTr/imagesTs uses this {folder} file"
            stray.append(rejected_item(f"{folder}/{entry.path.name}", entry.path, code, reason))
    return stray


def curate_nnunet(
    raw_root: str | Path,
    out_dir: str | Path,
    target_spacing: tuple[float, float, float],
    describe: DatasetDescription,
    *,
    show_progress: bool = True,
    sharding: Sharding = Sharding(),
) -> CuratedDataset:
    """Curate an nnU-Net raw dataset into `out_dir` (again nnU-Net raw, resampled and normalised) with its card.

    With `sharding.shard_size`, cases are curated in shards of that many by `sharding.workers` processes,
    resumably; each shard is one small nnU-Net raw dataset (its cases' files and a dataset.json counting them).
    Duplicate cases (same voxels under two keys) are then not detected: that needs a content index across shards.
    """
    raw_root, out_dir = Path(raw_root), Path(out_dir)
    info = read_dataset_json(raw_root)
    cases = list_cases(raw_root)
    spacing = tuple(float(s) for s in target_spacing)

    stray = _stray_files(raw_root, cases, info.file_ending)

    def items() -> Iterator[CurationItem]:
        for case in cases:
            sources = [*case.images, *([case.label] if case.label is not None else [])]
            yield CurationItem(
                key=case.key, sources=sources, load=lambda case=case: load_curated_case(case, info, spacing)
            )  # type: ignore[misc]
        yield from stray

    extra = {
        k: v for k, v in info.model_dump().items() if k not in ("channel_names", "labels", "numTraining", "file_ending")
    }
    normalization = "CT clip + z-score" if info.modality() == "CT" else "foreground z-score"
    tool = CurationTool(
        "hfm radiome curate",
        "hfm-radiome",
        packages=("nibabel", "numpy", "scipy"),
        parameters={"target_spacing": list(spacing), "modality": info.modality(), "normalization": normalization},
    )
    if not describe.description:
        described = f"{raw_root.name} resampled to {spacing} mm and normalised ({info.modality()})"
        describe = replace(describe, description=described)
    sources = [raw_root / "dataset.json"]
    if sharding.shard_size is None:  # sharded, each shard's manifest lists its cases' files with sha256
        sources += [p for case in cases for p in (*case.images, case.label) if p is not None and p.exists()]
    return curate_dataset(
        items(),
        out_dir,
        domain="radiome",
        format=FORMAT_NAME,
        contract=volume_contract(len(info.channel_names), max(info.label_values())),
        writer=NnunetRawWriter(info.channel_names, info.labels, file_ending=".nii.gz", **extra),
        describe=describe,
        tool=tool,
        sources=sources,
        total=len(cases) + len(stray),
        show_progress=show_progress,
        detect_duplicates=sharding.shard_size is None,
        sharding=sharding,
    )
