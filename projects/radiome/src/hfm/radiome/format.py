"""The nnU-Net raw dataset layout (nnU-Net v2), read and written as nnU-Net itself does.

| path | content |
|---|---|
| `dataset.json` | `channel_names` {"0": "T1", ...}, `labels` {"background": 0, ...}, `numTraining`, `file_ending` |
| `imagesTr/<CASE>_<XXXX><file_ending>` | channel XXXX (0000, 0001, ...) of training case CASE |
| `labelsTr/<CASE><file_ending>` | integer label map of CASE on the same grid as its images |
| `imagesTs/<CASE>_<XXXX><file_ending>` | test cases, images only |

This module also gives `NnunetRawWriter` (a curation `SampleWriter`) and `NnunetRawFormat` (a `DatasetFormat`, so
`hfm card validate` re-reads curated radiome data). Samples hold `image` (channel, x, y, z) float32 and optional
`label` (x, y, z) uint8; the affine travels in `sample.attrs["affine"]` (16 numbers, row-major).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hfm.radiome.readers.volume import read_nifti, voxel_spacing, write_nifti
from hfm.shared.contracts import Sample
from hfm.shared.jsonio import dump_json, read_model, write_atomic
from hfm.shared.shard_view import refuse_sharded

FORMAT_NAME = "nnunet-raw"
DATASET_JSON = "dataset.json"
_CHANNEL_FILE = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


class DatasetJson(BaseModel):
    """nnU-Net v2's `dataset.json` (unknown keys such as `description` are kept)."""

    model_config = ConfigDict(extra="allow")

    channel_names: dict[str, str]
    labels: dict[str, int | list[int]]
    numTraining: int = Field(ge=0)  # noqa: N815 - nnU-Net's own key
    file_ending: str = ".nii.gz"

    @field_validator("channel_names")
    @classmethod
    def _channels_numbered(cls, value: dict[str, str]) -> dict[str, str]:
        if sorted(value) != [str(i) for i in range(len(value))]:
            raise ValueError(f"channel_names keys must be 0..{len(value) - 1}, got {sorted(value)}")
        return value

    @field_validator("labels")
    @classmethod
    def _background_zero(cls, value: dict[str, int | list[int]]) -> dict[str, int | list[int]]:
        if value.get("background") != 0:
            raise ValueError("labels must map 'background' to 0")
        return value

    def label_values(self) -> set[int]:
        values: set[int] = set()
        for v in self.labels.values():
            values.update(v if isinstance(v, list) else [v])
        return values

    def modality(self) -> str:
        return "CT" if any(n.upper() == "CT" for n in self.channel_names.values()) else "MR"


@dataclass
class RawCase:
    """One case of a raw dataset: its channel files and, for training cases, its label file."""

    key: str
    images: list[Path]
    label: Path | None
    split: str  # "train" (imagesTr) or "test" (imagesTs)


def read_dataset_json(root: str | Path) -> DatasetJson:
    path = Path(root) / DATASET_JSON
    if not path.exists():
        refuse_sharded(
            Path(root), "an nnU-Net raw dataset", "NnunetRawFormat"
        )  # a clearer reason than the missing file, where there is one
    missing = "missing; an nnU-Net raw dataset needs dataset.json"
    return read_model(path, DatasetJson, "a valid nnU-Net dataset.json", missing)


def list_cases(root: str | Path) -> list[RawCase]:
    """The cases of a raw dataset, sorted by key; a case missing a channel file is still listed (curation says why)."""
    root = Path(root)
    info = read_dataset_json(root)
    cases: list[RawCase] = []
    for folder, split in (("imagesTr", "train"), ("imagesTs", "test")):
        by_case: dict[str, dict[int, Path]] = {}
        for path in sorted((root / folder).glob(f"*{info.file_ending}")):
            match = _CHANNEL_FILE.match(path.name[: -len(info.file_ending)])
            if not match:  # one badly named file must not stop the others: curation quarantines it by name
                continue
            by_case.setdefault(match["case"], {})[int(match["channel"])] = path
        for key, channels in sorted(by_case.items()):
            images = [
                channels.get(i, root / folder / f"{key}_{i:04d}{info.file_ending}")
                for i in range(len(info.channel_names))
            ]
            label = root / "labelsTr" / f"{key}{info.file_ending}" if split == "train" else None
            cases.append(RawCase(key=key, images=images, label=label, split=split))
    return cases


def write_dataset_json(root: str | Path, info: DatasetJson) -> Path:
    path = Path(root) / DATASET_JSON
    write_atomic(path, dump_json(info.model_dump(mode="json")))
    return path


def export_case(
    root: str | Path,
    key: str,
    channels: list[np.ndarray],
    affine: np.ndarray,
    label: np.ndarray | None = None,
    file_ending: str = ".nii.gz",
    header: Any = None,
) -> list[Path]:
    """Write one case into the layout: channels to imagesTr (or imagesTs without a label), label to labelsTr."""
    root = Path(root)
    folder = "imagesTr" if label is not None else "imagesTs"
    written = [
        write_nifti(root / folder / f"{key}_{i:04d}{file_ending}", np.asarray(c), affine, header)
        for i, c in enumerate(channels)
    ]
    if label is not None:
        written.append(write_nifti(root / "labelsTr" / f"{key}{file_ending}", np.asarray(label, np.uint8), affine))
    return written


class NnunetRawWriter:
    """Curation writer: validated samples become cases of an nnU-Net raw dataset, then dataset.json."""

    format_name = FORMAT_NAME

    def __init__(self, channel_names: Mapping[str, str], labels: Mapping[str, int], **extra: Any) -> None:
        self.channel_names = dict(channel_names)
        self.labels = dict(labels)
        self.extra = extra
        self._root: Path | None = None
        self._files: list[str] = []
        self._training = 0

    def open(self, root: Path) -> None:
        self._root, self._files, self._training = root, [], 0

    def write(self, key: str, sample: Sample) -> None:
        assert self._root is not None, "open() first"
        affine = np.asarray(sample.attrs["affine"], dtype=float).reshape(4, 4)
        image = np.asarray(sample.arrays["image"])
        label = sample.arrays.get("label")
        paths = export_case(self._root, key, list(image), affine, label)
        self._files += [str(p.relative_to(self._root)) for p in paths]
        self._training += label is not None

    def close(self) -> list[str]:
        assert self._root is not None, "open() first"
        info = DatasetJson(
            channel_names=self.channel_names, labels=self.labels, numTraining=self._training, **self.extra
        )
        write_dataset_json(self._root, info)
        return [DATASET_JSON, *sorted(self._files)]


def load_case(case: RawCase, info: DatasetJson) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, Any]:
    """(image (C, x, y, z) float32, label or None, affine, header of channel 0), all in RAS."""
    volumes = [read_nifti(p, modality=info.modality()) for p in case.images]
    image = np.stack([np.asarray(v.array, dtype=np.float32) for v in volumes])
    label = None
    if case.label is not None and case.label.exists():
        label = np.asarray(read_nifti(case.label).array)
    return image, label, volumes[0].affine, volumes[0].header


class NnunetRawFormat:
    """Reads an nnU-Net raw dataset back for `hfm card validate`."""

    name = FORMAT_NAME

    def count(self, root: Path) -> int:
        return len(list_cases(root))

    def iter_samples(self, root: Path) -> Iterator[tuple[str, Sample]]:
        info = read_dataset_json(root)
        for case in list_cases(root):
            image, label, affine, _ = load_case(case, info)
            arrays = {"image": image}
            if label is not None:
                arrays["label"] = label
            yield case.key, Sample(arrays=arrays, attrs={"affine": affine.ravel().tolist(), "split": case.split})

    def metadata(self, root: Path) -> pd.DataFrame | None:
        info = read_dataset_json(root)
        rows = []
        for case in list_cases(root):
            volume = read_nifti(case.images[0], modality=info.modality())
            rows.append({"key": case.key, "split": case.split, **_grid_columns(volume.shape, volume.affine)})
        return pd.DataFrame(rows)


def _grid_columns(shape: tuple[int, ...], affine: np.ndarray) -> dict[str, float]:
    sx, sy, sz = voxel_spacing(affine)
    return {
        "size_x": shape[0],
        "size_y": shape[1],
        "size_z": shape[2],
        "spacing_x": sx,
        "spacing_y": sy,
        "spacing_z": sz,
    }
