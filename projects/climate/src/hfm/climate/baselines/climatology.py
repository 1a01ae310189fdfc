"""Climatologies fitted on the training period only, keyed by calendar position of the valid time.

WeatherBench 2 uses a day-of-year (and hour-of-day) climatology. Keys: `month` for monthly data, `hour` for
sub-daily data spanning less than a year of training (a day-of-year mean would then be undefined on test days),
`dayofyear` or `dayofyear_hour` otherwise. Calendar fields come from xarray's `.dt`, so 360-day calendars work.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import xarray as xr

from hfm.shared.errors import HFMError

Key = Literal["month", "hour", "dayofyear", "dayofyear_hour"]


def choose_key(times: xr.DataArray, train: np.ndarray) -> Key:
    step_hours = _step_hours(times)
    train_times = times[train]
    span_days = _span_days(train_times)
    if step_hours >= 28 * 24:
        return "month"
    if span_days < 366:
        return "hour" if step_hours < 24 else "dayofyear"
    return "dayofyear_hour" if step_hours < 24 else "dayofyear"


def _step_hours(times: xr.DataArray) -> float:
    from hfm.climate.contract import encode_times, regular_step

    return regular_step(encode_times(times).values) or 24.0


def _span_days(times: xr.DataArray) -> float:
    from hfm.climate.contract import encode_times

    hours = encode_times(times).values
    return float(hours.max() - hours.min()) / 24 if hours.size else 0.0


def calendar_keys(times: xr.DataArray, key: Key) -> np.ndarray:
    dt = times.dt
    if key == "month":
        return dt.month.values
    if key == "hour":
        return dt.hour.values
    if key == "dayofyear":
        return dt.dayofyear.values
    return dt.dayofyear.values * 100 + dt.hour.values


class Climatology:
    """Mean field per calendar key over the training steps."""

    def __init__(self, key: Key, keys: np.ndarray, means: np.ndarray) -> None:
        self.key, self._index = key, {int(k): i for i, k in enumerate(keys)}
        self.means = means

    @classmethod
    def fit(cls, times: xr.DataArray, fields: np.ndarray, train: np.ndarray, key: Key | None = None) -> Climatology:
        key = key or choose_key(times, train)
        keys = calendar_keys(times, key)[train]
        values = np.asarray(fields)[train]
        unique = np.unique(keys)
        with warnings.catch_warnings():  # cells missing at every step (land in an SST grid) stay NaN, no warning
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.stack([np.nanmean(values[keys == k], axis=0) for k in unique])
        return cls(key, unique, means.astype("float32"))

    def at(self, times: xr.DataArray) -> np.ndarray:
        """The climatological field at each valid time: (T, *field_shape)."""
        keys = calendar_keys(times, self.key)
        missing = sorted({int(k) for k in keys} - set(self._index))
        if missing:
            raise HFMError(f"climatology by {self.key} has no training data for keys {missing[:5]}")
        return self.means[[self._index[int(k)] for k in keys]]
