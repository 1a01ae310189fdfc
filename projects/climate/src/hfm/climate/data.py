"""The CF zarr store in memory (`FieldData`, with its training/test pairs) and training windows from it.

A forecast pair's target is exactly `lead` regular steps after its init (no pair crosses a gap); test targets are
the steps outside the training period.

`StoreWindows` reads the `fields` array with zarr directly, a whole time chunk at a time, and keeps the last chunks
in memory: random windows of a few steps then cost a slice of an in-memory chunk instead of a dask graph and a
decode per window (what a plain `xarray.isel` loop pays; `xarray_windows` is that loop, kept for the speed figure).
Windows are standardised anomalies: (field - climatology at the valid time) / anomaly std per variable, with NaN
(land in SST) as 0, the climatological value.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import xarray as xr
import zarr
from torch.utils.data import Dataset

from hfm.climate.baselines.climatology import Climatology
from hfm.climate.contract import encode_times, regular_step
from hfm.climate.format import STORE, open_store

# A model forecast: (fields at init [N, V, ..., H, W], init indices, lead in steps) -> forecast fields, same shape.
Forecaster = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass
class FieldData:
    """A curated store loaded into memory, with what every evaluation needs."""

    fields: np.ndarray  # (T, V, [L], H, W) float32
    times: xr.DataArray
    hours: np.ndarray
    step: float
    lat: np.ndarray
    lon: np.ndarray
    variables: list[str]
    units: list[str]
    is_train: np.ndarray
    climatology: Climatology
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def load(cls, path: str | Path) -> FieldData:
        ds = open_store(path)
        fields = ds["fields"].values
        variables = [str(v) for v in ds["variable"].values]
        units = [str(u) for u in ds["units"].values]
        if "level" in ds.dims:  # models and scores see each (variable, level) pair as one field: "t@850"
            levels = [f"{float(level):g}" for level in ds["level"].values]
            fields = fields.reshape(fields.shape[0], -1, *fields.shape[-2:])
            units = [u for u in units for _ in levels]
            variables = [f"{v}@{level}" for v in variables for level in levels]
        is_train = ds["is_train"].values.astype(bool)
        hours = encode_times(ds["time"]).values
        return cls(
            fields=fields,
            times=ds["time"].load(),
            hours=hours,
            step=regular_step(hours) or 1.0,
            lat=ds["lat"].values,
            lon=ds["lon"].values,
            variables=variables,
            units=units,
            is_train=is_train,
            climatology=Climatology.fit(ds["time"].load(), fields, is_train),
            mean=ds["mean"].values.reshape(-1),
            std=ds["std"].values.reshape(-1),
        )

    def pairs(self, lead: int, targets_in: str) -> np.ndarray:
        """Init indices i with target i+lead exactly lead steps later and in the 'train' or 'test' period."""
        i = np.arange(self.hours.size - lead)
        tolerance = 3 * 24 if self.step > 600 else 1e-6  # calendar months vary by up to 3 days
        exact = np.isclose(self.hours[i + lead] - self.hours[i], lead * self.step, atol=tolerance)
        wanted = self.is_train[i + lead] if targets_in == "train" else ~self.is_train[i + lead]
        if targets_in == "train":
            wanted &= self.is_train[i]
        return i[exact & wanted]

    def pairs_into(self, lead: int, targets: np.ndarray) -> np.ndarray:
        """Init indices i whose target i+lead is exactly lead steps later and where `targets` (bool, T) is True; the
        init itself may lie anywhere (a forecast sees the past, gaps included)."""
        i = np.arange(self.hours.size - lead)
        tolerance = 3 * 24 if self.step > 600 else 1e-6
        exact = np.isclose(self.hours[i + lead] - self.hours[i], lead * self.step, atol=tolerance)
        return i[exact & targets[i + lead]]

    def with_training(self, train: np.ndarray) -> FieldData:
        """The same fields with another training period (a cross-validation fold): climatology refitted on it."""
        train = np.asarray(train, bool)
        return replace(self, is_train=train, climatology=Climatology.fit(self.times, self.fields, train))

    def anomalies(self) -> np.ndarray:
        return self.fields - self.climatology.at(self.times)


class Normaliser:
    """Standardised anomalies against the training climatology; `index[t]` is step t's climatology row."""

    def __init__(self, data: FieldData) -> None:
        clim = data.climatology
        from hfm.climate.baselines.climatology import calendar_keys

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

    def climatology_z(self, steps: np.ndarray) -> np.ndarray:
        """The climatology at `steps` less its mean over the calendar, in anomaly std: the diurnal (or seasonal)
        cycle as a forcing channel, known at every step without looking at the step's own field."""
        z = (self.means[self.index[steps]] - np.nanmean(self.means, axis=0)) / self.scale
        return np.nan_to_num(z, nan=0.0).astype("float32")

    def with_climatology(self, z: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """(N, V, H, W) standardised fields at `steps` -> (N, 2V, H, W): the fields, then `climatology_z`."""
        return np.concatenate([z, self.climatology_z(steps)], axis=1)


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


class WindowsWithClimatology(StoreWindows):
    """`StoreWindows` with each step's standardised climatology as extra channels (the interpolator's forcing)."""

    def __getitem__(self, i: int) -> torch.Tensor:
        start = int(self.starts[i])
        steps = np.arange(start, start + self.window)
        return torch.from_numpy(self.normaliser.with_climatology(self.normaliser.to_z(self.raw(start), steps), steps))


def xarray_windows(root: str | Path, starts: np.ndarray, window: int, normaliser: Normaliser) -> Iterator[np.ndarray]:
    """The plain xarray loop on the same store: one `isel` per window (the baseline of the speed figure)."""
    from hfm.climate.format import open_store

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
