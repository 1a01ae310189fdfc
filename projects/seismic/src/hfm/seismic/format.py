"""The SeisBench dataset format, read and written so that SeisBench and hfm open each other's datasets.

A dataset folder holds two files:

- `metadata.csv`: one row per trace. `trace_name` locates the waveform: `bucket3$17,:3,:3001` is row 17 of the HDF5
  dataset `data/bucket3`, sliced to 3 components and 3001 samples (traces of one shape share a bucket). The other
  columns follow SeisBench's naming: `trace_start_time`, `trace_sampling_rate_hz`, `station_network_code`,
  `station_code`, `trace_P_arrival_sample`, `trace_S_arrival_sample`, `source_*`, `split`, ...
- `waveforms.hdf5`: the group `data/` with one chunked float32 dataset per bucket, shape (traces, components,
  samples), one chunk per trace; the group `data_format/` with `component_order` (ZNE), `dimension_order` (CW),
  `sampling_rate`, `measurement`, `unit`, `instrument_response`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from hfm.shared.contracts import Sample
from hfm.shared.errors import HFMError
from hfm.shared.shard_view import refuse_sharded

FORMAT_NAME = "seisbench"
METADATA = "metadata.csv"
WAVEFORMS = "waveforms.hdf5"
WAVEFORM_ARRAY = "waveforms"
_BUCKET_ROWS = 1024  # rows per bucket, as SeisBench's writer: bounds the size of one HDF5 dataset
_LOCATION = re.compile(r"^(?P<block>[^$]+)(\$(?P<row>\d+)(?P<slices>(,:\d+)*))?$")


def parse_trace_name(trace_name: str) -> tuple[str, tuple]:
    """`bucket0$5,:3,:1200` -> ("bucket0", (5, slice(None, 3), slice(None, 1200))); a plain name is a whole dataset."""
    match = _LOCATION.match(str(trace_name))
    if not match:
        raise HFMError(f"trace_name {trace_name!r}: not a SeisBench location like 'bucket0$5,:3,:1200'")
    if match["row"] is None:
        return match["block"], (slice(None),)
    slices = tuple(slice(None, int(part[1:])) for part in match["slices"].split(",")[1:])
    return match["block"], (int(match["row"]), *slices)


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


class SeisBenchDataset:
    """A SeisBench-format folder: its metadata table and random access to each trace's (C, N) waveform.

    The HDF5 file is opened lazily and per process, so the dataset works inside DataLoader workers.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        meta_path, wave_path = self.root / METADATA, self.root / WAVEFORMS
        for path in (meta_path, wave_path):
            if not path.is_file():
                refuse_sharded(
                    self.root, "a SeisBench dataset", "SeisBenchFormat"
                )  # a clearer reason than the missing file, where there is one
                raise HFMError(f"{path}: missing; a SeisBench dataset needs {METADATA} and {WAVEFORMS}")
        self.metadata = pd.read_csv(meta_path, low_memory=False)
        if "trace_name" not in self.metadata.columns:
            raise HFMError(f"{meta_path}: column trace_name is missing (it locates each waveform)")
        self._locations = [parse_trace_name(name) for name in self.metadata["trace_name"]]
        self._file: h5py.File | None = None
        with h5py.File(wave_path, "r") as handle:
            if "data" not in handle:
                raise HFMError(f"{wave_path}: no 'data' group")
            self.data_format = {k: _decode(v[()]) for k, v in handle.get("data_format", {}).items()}
        self.component_order = str(self.data_format.get("component_order", "ZNE"))
        if str(self.data_format.get("dimension_order", "CW")) != "CW":
            raise HFMError(
                f"{wave_path}: data_format/dimension_order {self.data_format['dimension_order']!r} (hfm reads CW)"
            )

    def __len__(self) -> int:
        return len(self.metadata)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_file": None}  # h5py handles do not cross process boundaries

    @property
    def _h5(self) -> h5py.File:
        if self._file is None:
            self._file = h5py.File(self.root / WAVEFORMS, "r")
        return self._file

    def sampling_rate(self, index: int) -> float:
        if "trace_sampling_rate_hz" in self.metadata.columns:
            value = self.metadata["trace_sampling_rate_hz"].iloc[index]
            if pd.notna(value):
                return float(value)
        if "sampling_rate" not in self.data_format:
            raise HFMError(f"{self.root}: no trace_sampling_rate_hz column and no data_format/sampling_rate")
        return float(self.data_format["sampling_rate"])

    def waveform(self, index: int) -> np.ndarray:
        """(components, samples) float32 in the dataset's component order."""
        block, location = self._locations[index]
        try:
            return np.asarray(self._h5["data"][block][location], dtype=np.float32)
        except KeyError as error:
            raise HFMError(
                f"{self.root / WAVEFORMS}: trace {self.metadata['trace_name'].iloc[index]!r} not found"
            ) from error

    def key(self, index: int) -> str:
        for column in ("trace_name_original", "trace_name"):
            if column in self.metadata.columns and pd.notna(self.metadata[column].iloc[index]):
                return str(self.metadata[column].iloc[index])
        return str(index)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class SeisBenchWriter:
    """`SampleWriter` for curation: each sample's `waveforms` (C, N) goes into the bucket of its shape."""

    format_name = FORMAT_NAME

    def __init__(
        self,
        sampling_rate: float,
        component_order: str = "ZNE",
        measurement: str = "velocity",
        unit: str = "counts",
        instrument_response: str = "not restituted",
    ) -> None:
        self.data_format = {
            "component_order": component_order,
            "dimension_order": "CW",
            "sampling_rate": sampling_rate,
            "measurement": measurement,
            "unit": unit,
            "instrument_response": instrument_response,
        }
        self._root: Path | None = None
        self._file: h5py.File | None = None
        self._rows: list[dict[str, Any]] = []
        self._buckets: dict[tuple[int, int], list[tuple[str, int]]] = {}  # shape -> [(name, rows)]

    def open(self, root: Path) -> None:
        self._root = root
        self._rows, self._buckets = [], {}
        self._file = h5py.File(root / WAVEFORMS, "w", track_order=True)
        self._file.create_group("data")
        group = self._file.create_group("data_format")
        for key, value in self.data_format.items():
            group.create_dataset(key, data=value)

    def _slot(self, shape: tuple[int, int]) -> tuple[h5py.Dataset, str, int]:
        assert self._file is not None
        buckets = self._buckets.setdefault(shape, [])
        if not buckets or buckets[-1][1] >= _BUCKET_ROWS:
            name = f"bucket{sum(len(b) for b in self._buckets.values())}"
            self._file["data"].create_dataset(
                name, shape=(0, *shape), maxshape=(None, *shape), chunks=(1, *shape), dtype="float32"
            )
            buckets.append((name, 0))
        name, rows = buckets[-1]
        buckets[-1] = (name, rows + 1)
        dataset = self._file["data"][name]
        dataset.resize(rows + 1, axis=0)
        return dataset, name, rows

    def write(self, key: str, sample: Sample) -> None:
        waveforms = np.asarray(sample.arrays[WAVEFORM_ARRAY], dtype=np.float32)
        dataset, name, row = self._slot(tuple(waveforms.shape))
        dataset[row] = waveforms
        channels, samples = waveforms.shape
        self._rows.append(
            {
                "trace_name": f"{name}${row},:{channels},:{samples}",
                "trace_name_original": key,
                **sample.attrs,
            }
        )

    def close(self) -> list[str]:
        assert self._root is not None and self._file is not None, "open() first"
        self._file.close()
        self._file = None
        columns: list[str] = []
        for row in self._rows:
            columns += [c for c in row if c not in columns]
        pd.DataFrame(self._rows, columns=columns).to_csv(self._root / METADATA, index=False, lineterminator="\n")
        return [METADATA, WAVEFORMS]


class SeisBenchFormat:
    """`DatasetFormat` for `hfm card validate`: reads any SeisBench-format folder back as samples."""

    name = FORMAT_NAME

    def count(self, root: Path) -> int:
        return len(SeisBenchDataset(root))

    def metadata(self, root: Path) -> pd.DataFrame | None:
        return SeisBenchDataset(root).metadata

    def iter_samples(self, root: Path) -> Iterator[tuple[str, Sample]]:
        dataset = SeisBenchDataset(root)
        try:
            for index in range(len(dataset)):
                yield dataset.key(index), Sample(arrays={WAVEFORM_ARRAY: dataset.waveform(index)})
        finally:
            dataset.close()
