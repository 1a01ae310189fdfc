"""Reference forecasts every model is scored against: persistence, climatology, damped anomaly persistence.

Damped anomaly persistence forecasts the climatology plus the current anomaly times r, the lag-`lead` regression
coefficient of anomalies on themselves, fitted per grid point on training pairs only (a first-order
autoregressive model; r -> 0 turns it into climatology, r = 1 into anomaly persistence).
"""

from __future__ import annotations

import numpy as np


def persistence(initial: np.ndarray) -> np.ndarray:
    return np.asarray(initial, dtype="float32").copy()


def fit_damping(anomalies: np.ndarray, lead: int, train_pairs: np.ndarray) -> np.ndarray:
    """Per-point r = sum(a_t a_{t+lead}) / sum(a_t^2) over index pairs (t, t+lead) both in training."""
    a0 = anomalies[train_pairs].astype("float64")
    a1 = anomalies[train_pairs + lead].astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.nansum(a0 * a1, axis=0) / np.nansum(a0 * a0, axis=0)
    return np.nan_to_num(r, nan=0.0).astype("float32")


def damped_anomaly_persistence(
    initial_anomaly: np.ndarray, target_climatology: np.ndarray, r: np.ndarray
) -> np.ndarray:
    return (target_climatology + r * initial_anomaly).astype("float32")
