"""Training windows from the CF zarr store.

`StoreWindows` reads the `fields` array with zarr directly, a whole time chunk at a time, and keeps the last chunks
in memory: random windows of a few steps then cost a slice of an in-memory chunk instead of a dask graph and a
decode per window (what a plain `xarray.isel` loop pays; `xarray_windows` is that loop, kept for the speed figure).
Windows are standardised anomalies: (field - climatology at the valid time) / anomaly std per variable, with NaN
(land in SST) as 0, the climatological value.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import xarray as xr
import zarr
from torch.utils.data import Dataset

from hfm.climate.evaluation import FieldData
from hfm.climate.store import STORE


class Normaliser:
    """Standardised anomalies against the training climatology; `index[t]` is step t's climatology row."""

    def __init__(self, data: FieldData) -> None:
        clim = data.climatology
        from hfm.climate.climatology import calendar_keys

        keys = calendar_keys(data.times, clim.key)
        self.index = np.array([clim._index[int(k)] for k in keys])
        self.means = clim.means
        anomalies = data.fields[data.is_train] - self.means[self.index[data.is_train]]
        axes = (0, *range(2, anomalies.ndim))
        self.scale = np.nanstd(anomalies, axis=axes).astype("float32").reshape(-1, *[1] * (anomalies.ndim - 2))

    def to_z(self, fields: np.ndarray, steps: np.ndarray) -> np.ndarray:
        z = (fields - self.means[self.index[steps]]) / self.scale
        return np.nan_to_num(z, nan=0.0).astype("float32")

    def from_z(self, z: np.ndarray, steps: np.ndarray) -> np.ndarray:
        return (z * self.scale + self.means[self.index[steps]]).astype("float32")


class StoreWindows(Dataset):
    """Window i = standardised fields of steps starts[i] .. starts[i] + window - 1, read chunk-wise from zarr."""

    def __init__(
        self, root: str | Path, starts: np.ndarray, window: int, normaliser: Normaliser, cached_chunks: int = 8
    ) -> None:
        root = Path(root)
        self.array = zarr.open_array(str((root / STORE if (root / STORE).exists() else root) / "fields"), mode="r")
        self.chunk = self.array.chunks[0]
        self.starts, self.window, self.normaliser = np.asarray(starts), window, normaliser
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cached = cached_chunks

    def __len__(self) -> int:
        return int(self.starts.size)

    def _chunk(self, k: int) -> np.ndarray:
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        block = self.array[k * self.chunk : (k + 1) * self.chunk]
        self._cache[k] = block
        if len(self._cache) > self._cached:
            self._cache.popitem(last=False)
        return block

    def raw(self, start: int) -> np.ndarray:
        stop = start + self.window
        first, last = start // self.chunk, (stop - 1) // self.chunk
        block = np.concatenate([self._chunk(k) for k in range(first, last + 1)], axis=0)
        offset = start - first * self.chunk
        return block[offset : offset + self.window]

    def __getitem__(self, i: int) -> torch.Tensor:
        start = int(self.starts[i])
        steps = np.arange(start, start + self.window)
        return torch.from_numpy(self.normaliser.to_z(self.raw(start), steps))


def xarray_windows(root: str | Path, starts: np.ndarray, window: int, normaliser: Normaliser) -> Iterator[np.ndarray]:
    """The plain xarray loop on the same store: one `isel` per window (the baseline of the speed figure)."""
    from hfm.climate.store import open_store

    ds: xr.Dataset = open_store(root)
    for start in starts:
        steps = np.arange(start, start + window)
        yield normaliser.to_z(ds["fields"].isel(time=slice(int(start), int(start) + window)).values, steps)


def window_starts(data: FieldData, window: int, period: str) -> np.ndarray:
    """Starts of windows of `window` consecutive regular steps whose last step lies in `period` (train/test);
    training windows lie wholly in the training period."""
    pairs = (
        data.pairs(window - 1, period)
        if window > 1
        else np.flatnonzero(data.is_train if period == "train" else ~data.is_train)
    )
    if window > 2:  # every step inside the window must be regular too, not only its ends
        regular = np.isclose(np.diff(data.hours), data.step, atol=3 * 24 if data.step > 600 else 1e-6)
        ok = np.array([regular[s : s + window - 1].all() for s in pairs], dtype=bool)
        pairs = pairs[ok]
    return pairs
