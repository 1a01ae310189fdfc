"""Scores as WeatherBench 2 defines them, over the last two axes (lat, lon) of arrays shaped (time, ..., lat, lon).

Latitude weights are cos(lat) normalised to mean 1. RMSE is computed per time step over the weighted grid and then
averaged over time (WB2's definition); ACC is the uncentred anomaly correlation against a climatology, per time step,
then averaged. NaN points (land in an SST field) are left out of both numerator and weights.
"""

from __future__ import annotations

import numpy as np

from hfm.climate.baselines import damped_anomaly_persistence, fit_damping, persistence
from hfm.climate.data import FieldData, Forecaster


def lat_weights(lat: np.ndarray) -> np.ndarray:
    weights = np.cos(np.deg2rad(np.asarray(lat, dtype="float64")))
    return weights / weights.mean()


def _weighted_mean(values: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Weighted mean over (lat, lon) ignoring NaNs: (..., lat, lon) -> (...)."""
    weights = np.broadcast_to(lat_weights(lat)[:, None], values.shape[-2:])
    valid = np.isfinite(values)
    w = np.where(valid, weights, 0.0)
    return np.where(valid, values * weights, 0.0).sum(axis=(-2, -1)) / w.sum(axis=(-2, -1))


def rmse(forecast: np.ndarray, truth: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Latitude-weighted RMSE per time step, averaged over time: (T, ..., lat, lon) -> (...)."""
    error = np.asarray(forecast, dtype="float64") - np.asarray(truth, dtype="float64")
    return np.sqrt(_weighted_mean(error**2, lat)).mean(axis=0)


def bias(forecast: np.ndarray, truth: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Latitude-weighted mean error (forecast - truth), averaged over time."""
    error = np.asarray(forecast, dtype="float64") - np.asarray(truth, dtype="float64")
    return _weighted_mean(error, lat).mean(axis=0)


def acc(forecast: np.ndarray, truth: np.ndarray, climatology: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Anomaly correlation coefficient against `climatology` (same shape), per time step, averaged over time."""
    f = np.asarray(forecast, dtype="float64") - climatology
    o = np.asarray(truth, dtype="float64") - climatology
    numerator = _weighted_mean(f * o, lat)
    denominator = np.sqrt(_weighted_mean(f**2, lat) * _weighted_mean(o**2, lat))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (numerator / denominator).mean(axis=0)


def score_table(forecast: np.ndarray, truth: np.ndarray, climatology: np.ndarray, lat: np.ndarray) -> dict[str, float]:
    """RMSE, ACC and bias of one forecast, averaged over any middle axes (variables are scored apart by callers)."""
    return {
        "rmse": float(np.mean(rmse(forecast, truth, lat))),
        "acc": float(np.mean(acc(forecast, truth, climatology, lat))),
        "bias": float(np.mean(bias(forecast, truth, lat))),
    }


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
