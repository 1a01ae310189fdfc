"""The CF zarr store in memory (`FieldData`, with its training/test pairs) and training windows from it.

A forecast pair's target is exactly `lead` regular steps after its init (no pair crosses a gap); test targets are
the steps outside the training period.

`StoreWindows` reads the `fields` array with zarr directly, a whole time chunk at a time, and keeps the last chunks
in memory: random windows of a few steps then cost a slice of an in-memory chunk instead of a dask graph and a
decode per window (what a plain `xarray.isel` loop pays; `xarray_windows` is that loop, kept for the speed figure).
Windows are standardised anomalies: (field - climatology at the valid time) / anomaly std per variable, with NaN
(land in SST) as 0, the climatological value.

Sharded datasets are streamed store by store (`climate_stream`): the same windows, but a window lies within one
shard (windows across two shards are not drawn), and the normalisation (`StreamedNormaliser`) is fitted by
streaming: the training climatology (mean per calendar key) and the anomaly scale per variable accumulated shard by
shard in float64 (two passes), so only the time axis and one shard's fields are held, never the dataset's fields.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import xarray as xr
import zarr
from torch.utils.data import Dataset

from hfm.climate.baselines.climatology import Climatology, calendar_keys, choose_key
from hfm.climate.contract import encode_times, regular_step
from hfm.climate.format import STORE, open_store
from hfm.shared.errors import HFMError
from hfm.shared.shard_layout import ShardManifest, finished_shards, require_complete
from hfm.shared.shard_loader import ShardReader, ShardStream

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
        cycle as a forcing channel, known at every step without looking at the step's own field. A point with no
        climatology at any step (land in an SST grid) stays NaN until it is set to 0, without a warning."""
        defined = ~np.isnan(self.means).all(axis=0)
        centre = np.full(self.means.shape[1:], np.nan, dtype=self.means.dtype)
        centre[defined] = np.nanmean(self.means[:, defined], axis=0)
        z = (self.means[self.index[steps]] - centre) / self.scale
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


def _offsets(size: int, tile: int) -> list[int]:
    """Tile starts covering `size` points: every `tile` points, the last flush with the edge."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile + 1, tile))
    return starts if starts[-1] == size - tile else [*starts, size - tile]


class CorpusTiles(Dataset):
    """Standardised (1, 1, tile, tile) tiles of every store's fields, for pretraining one trunk across stores.

    Each store's fields are cut into `tile x tile` grid-point tiles of one (variable, level) channel at one time
    step, on a regular grid of tile offsets (the last row and column flush with the grid's edge; grids smaller than
    a tile padded with NaN). A tile is standardised by its own mean and standard deviation over its defined points
    (NaN, land in SST, then 0), so a 500 hPa geopotential tile in m2 s-2 and an SST tile in K reach the trunk on one
    scale; tiles with under half their points defined or no variation are left out. Item order follows the stores.
    """

    def __init__(self, datasets: list[Path], tile: int = 16, min_defined: float = 0.5) -> None:
        self.tile = tile
        self.fields: list[np.ndarray] = []
        items = []
        for k, path in enumerate(datasets):
            fields = FieldData.load(path).fields  # (T, C, H, W): levels are channels
            pad_h, pad_w = max(0, tile - fields.shape[-2]), max(0, tile - fields.shape[-1])
            fields = np.pad(fields, ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), constant_values=np.nan)
            self.fields.append(fields)
            for y in _offsets(fields.shape[-2], tile):
                for x in _offsets(fields.shape[-1], tile):
                    block = fields[:, :, y : y + tile, x : x + tile]
                    defined = np.isfinite(block).mean(axis=(-2, -1))
                    with warnings.catch_warnings():  # an all-NaN tile (land) has no spread: left out below
                        warnings.simplefilter("ignore", RuntimeWarning)
                        spread = np.nanstd(block, axis=(-2, -1))
                    t, c = np.nonzero((defined >= min_defined) & (spread > 0))
                    items += [(k, ti, ci, y, x) for ti, ci in zip(t, c, strict=True)]
        if not items:
            raise HFMError(f"corpus: no tile of {tile} x {tile} points with enough defined values in {datasets}")
        self.items = np.array(items, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> torch.Tensor:
        k, t, c, y, x = (int(v) for v in self.items[i])
        block = self.fields[k][t, c, y : y + self.tile, x : x + self.tile].astype("float64")
        z = (block - np.nanmean(block)) / np.nanstd(block)
        return torch.from_numpy(np.nan_to_num(z, nan=0.0).astype("float32"))[None, None]

    def counts(self) -> dict[int, int]:
        """Tiles per store (index in `datasets`)."""
        stores, n = np.unique(self.items[:, 0], return_counts=True)
        return {int(s): int(c) for s, c in zip(stores, n, strict=True)}


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


def stores(root: str | Path) -> list[Path]:
    """The shards that hold a store (a shard whose every file was quarantined has none)."""
    require_complete(root)
    return [shard for shard in finished_shards(root) if (shard / STORE).exists()]


def shard_fields(ds: xr.Dataset, steps: np.ndarray | slice = slice(None)) -> np.ndarray:
    """(T, V, [L], H, W) fields of a shard as (T, V*L, H, W) float64, levels folded into variables as FieldData
    folds them."""
    fields = np.asarray(ds["fields"].values[steps], dtype=np.float64)
    return fields.reshape(fields.shape[0], int(np.prod(fields.shape[1:-2])), *fields.shape[-2:])


@dataclass
class StreamedNormaliser:
    """Standardised anomalies against a training climatology fitted by streaming (`fit`)."""

    climatology: Climatology
    scale: np.ndarray  # (V, 1, 1) anomaly std per variable over the training steps
    step: float  # the dataset's regular step in hours

    @classmethod
    def fit(cls, root: str | Path) -> StreamedNormaliser:
        shards = stores(root)
        if not shards:
            raise HFMError(f"{root}: no shard holds a store (every file quarantined)")
        times = [open_store(shard)["time"].load() for shard in shards]
        train = [open_store(shard)["is_train"].values.astype(bool) for shard in shards]
        all_times, all_train = xr.concat(times, dim="time"), np.concatenate(train)
        if not all_train.any():
            raise HFMError(f"{root}: no training step in any shard")
        key = choose_key(all_times, all_train)
        keys = np.unique(calendar_keys(all_times, key)[all_train])
        index = {int(k): i for i, k in enumerate(keys)}
        sums = counts = None
        for shard, shard_times, shard_train in zip(shards, times, train, strict=True):
            fields = shard_fields(open_store(shard), shard_train)
            rows = np.array([index[int(k)] for k in calendar_keys(shard_times, key)[shard_train]], dtype=int)
            if sums is None:
                sums, counts = np.zeros((len(keys), *fields.shape[1:])), np.zeros((len(keys), *fields.shape[1:]))
            np.add.at(sums, rows, np.nan_to_num(fields))
            np.add.at(counts, rows, np.isfinite(fields))
        with warnings.catch_warnings():  # cells missing at every step (land in SST) stay NaN, as Climatology's
            warnings.simplefilter("ignore", RuntimeWarning)
            means = (sums / counts).astype("float32")
        climatology = Climatology(key, keys, means)
        moments = np.zeros((3, means.shape[1]))  # per variable: count, sum, sum of squares of the anomalies
        for shard, shard_times, shard_train in zip(shards, times, train, strict=True):
            anomalies = shard_fields(open_store(shard), shard_train) - climatology.at(shard_times[shard_train])
            axes = (0, *range(2, anomalies.ndim))
            moments += [np.isfinite(anomalies).sum(axes), np.nansum(anomalies, axes), np.nansum(anomalies**2, axes)]
        mean = moments[1] / moments[0]
        scale = np.sqrt(moments[2] / moments[0] - mean**2).astype("float32")
        hours = encode_times(all_times).values
        return cls(climatology, scale.reshape(-1, 1, 1), regular_step(hours) or 1.0)

    def anomaly_z(self, anomalies: np.ndarray) -> np.ndarray:
        """Anomalies (field - its climatology) in anomaly std, NaN (land) as 0, the climatological value."""
        return np.nan_to_num(anomalies / self.scale, nan=0.0).astype("float32")


def train_window_starts(hours: np.ndarray, is_train: np.ndarray, window: int, step: float) -> np.ndarray:
    """Starts of windows of `window` consecutive regular steps that lie wholly in the training period."""
    tolerance = 3 * 24 if step > 600 else 1e-6  # calendar months vary by up to 3 days
    regular = np.isclose(np.diff(hours), step, atol=tolerance)
    starts = np.arange(hours.size - window + 1)
    ok = [is_train[s : s + window].all() and regular[s : s + window - 1].all() for s in starts]
    return starts[np.asarray(ok, dtype=bool)]


@dataclass(frozen=True)
class ShardPlan:
    """What streaming a shard needs besides its fields, worked out once from its time axis: the span of training
    steps read, the window starts within it and the climatology row of each of its steps."""

    span: slice
    starts: np.ndarray  # relative to span.start
    rows: np.ndarray  # climatology row per step of the span
    encoded: bool  # the fields carry a CF scale or offset: read them through xarray, which applies it


class ClimateShards(ShardReader):
    """The standardised training windows of each shard's store, in time order.

    A shard's plan (`ShardPlan`: a few integers per time step) is made when the stream counts its windows and kept
    for the stream's life, so an epoch opens no xarray dataset and decodes no calendar: it reads the span's fields
    with zarr (as `StoreWindows` does), and standardises the span once; each window is a copy of its steps.
    """

    def __init__(self, window: int, normaliser: StreamedNormaliser) -> None:
        self.window, self.normaliser = window, normaliser
        self._plans: dict[Path, ShardPlan | None] = {}

    def starts(self, ds: xr.Dataset) -> np.ndarray:
        hours = encode_times(ds["time"]).values
        return train_window_starts(hours, ds["is_train"].values.astype(bool), self.window, self.normaliser.step)

    def plan(self, shard: Path) -> ShardPlan | None:
        """The shard's plan (None: no store or no window), made on first use."""
        if shard not in self._plans:
            self._plans[shard] = self._make_plan(shard)
        return self._plans[shard]

    def _make_plan(self, shard: Path) -> ShardPlan | None:
        if not (shard / STORE).exists():
            return None
        ds = open_store(shard)
        starts = self.starts(ds)
        if not starts.size:
            return None
        span = slice(int(starts[0]), int(starts[-1]) + self.window)  # training steps only: their keys are fitted
        climatology = self.normaliser.climatology
        keys = calendar_keys(ds["time"][span].load(), climatology.key)
        missing = sorted({int(k) for k in keys} - set(climatology._index))
        if missing:
            raise HFMError(f"climatology by {climatology.key} has no training data for keys {missing[:5]}")
        rows = np.array([climatology._index[int(k)] for k in keys], dtype=np.int64)
        encoded = bool({"scale_factor", "add_offset"} & set(ds["fields"].encoding))
        return ShardPlan(span, starts - span.start, rows, encoded)

    def count(self, shard: Path, manifest: ShardManifest) -> int:
        plan = self.plan(shard)
        return 0 if plan is None else int(plan.starts.size)

    def read(self, shard: Path, rng: np.random.Generator) -> Iterator[torch.Tensor]:
        plan = self.plan(shard)
        if plan is None:
            return
        if plan.encoded:
            fields = shard_fields(open_store(shard), plan.span)
        else:
            raw = zarr.open_array(str(shard / STORE / "fields"), mode="r")[plan.span]
            fields = np.asarray(raw, dtype=np.float64).reshape(raw.shape[0], -1, *raw.shape[-2:])
        # Element by element what the climatology's `at` and `anomaly_z` give per window, done once a shard.
        z = self.normaliser.anomaly_z(fields - self.normaliser.climatology.means[plan.rows])
        for start in plan.starts:
            yield torch.from_numpy(z[int(start) : int(start) + self.window].copy())


def climate_stream(root: str | Path, window: int) -> tuple[ShardStream, int]:
    """The training windows of a sharded dataset and the number of fields (variables x levels) a model sees."""
    normaliser = StreamedNormaliser.fit(root)
    stream = ShardStream(root, ClimateShards(window, normaliser))
    if len(stream) == 0:
        raise HFMError(f"{root}: no training window of {window} regular steps lies within one shard")
    return stream, int(normaliser.scale.shape[0])
