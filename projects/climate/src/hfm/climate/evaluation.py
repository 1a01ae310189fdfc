"""The evaluation protocol: every forecast (baselines and models) scored by the same code on the same pairs.

Test targets are the steps outside the training period; an initial time is used only when the step `lead` ahead
exists at exactly `lead` times the regular step (no pair crosses a gap). Scores are per variable, in its unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import xarray as xr

from hfm.climate.baselines import damped_anomaly_persistence, fit_damping, persistence
from hfm.climate.checks import encode_times, regular_step
from hfm.climate.climatology import Climatology
from hfm.climate.metrics import acc, bias, rmse
from hfm.climate.store import open_store

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


def _scores(forecast: np.ndarray, truth: np.ndarray, clim: np.ndarray, lat: np.ndarray) -> dict[str, list[float]]:
    return {
        "rmse": rmse(forecast, truth, lat).reshape(-1).tolist(),
        "acc": acc(forecast, truth, clim, lat).reshape(-1).tolist(),
        "bias": bias(forecast, truth, lat).reshape(-1).tolist(),
    }


def evaluate(data: FieldData, leads: list[int], models: dict[str, Forecaster] | None = None) -> dict:
    """{lead: {method: {rmse, acc, bias: per-variable lists}}} for the three baselines and any `models`."""
    anomalies = data.anomalies()
    clim_all = data.climatology.at(data.times)
    results: dict = {}
    for lead in leads:
        init = data.pairs(lead, "test")
        target = init + lead
        truth, clim = data.fields[target], clim_all[target]
        r = fit_damping(anomalies, lead, data.pairs(lead, "train"))
        forecasts = {
            "persistence": persistence(data.fields[init]),
            "climatology": clim,
            "damped_persistence": damped_anomaly_persistence(anomalies[init], clim, r),
        }
        for name, model in (models or {}).items():
            forecasts[name] = model(data.fields[init], init, lead)
        results[lead] = {name: _scores(f, truth, clim, data.lat) for name, f in forecasts.items()}
        results[lead]["_pairs"] = int(init.size)
    return results
