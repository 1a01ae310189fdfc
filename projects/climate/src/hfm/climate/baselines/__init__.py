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


class LinearInverseModel:
    """EOF-truncated linear inverse model (Penland & Sardeshmukh 1995) for monthly anomalies.

    The anomalies of the training steps are projected on their leading `modes` EOFs (cos(lat)-weighted, land left
    out); the one-step propagator G = C(1) C(0)^-1 of the principal components is fitted on training pairs, and a
    lead-tau forecast is G^tau applied to the initial anomaly's components, mapped back to the grid. With
    `residual_damping` the part of the anomaly the EOFs leave out is not dropped but damped per point (its own
    lag-1 regression on training pairs): the truncation then loses nothing that damped persistence would keep.
    """

    def __init__(
        self,
        anomalies: np.ndarray,
        lat: np.ndarray,
        train_pairs: np.ndarray,
        modes: int,
        residual_damping: bool = False,
    ) -> None:
        field_shape = anomalies.shape[1:]
        flat = anomalies.reshape(anomalies.shape[0], -1).astype("float64")
        train_steps = np.union1d(train_pairs, train_pairs + 1)
        self.ocean = np.isfinite(flat[train_steps]).mean(axis=0) > 0.5
        weight = np.broadcast_to(np.sqrt(np.cos(np.deg2rad(lat)))[:, None], field_shape[-2:])
        self.weight = np.broadcast_to(weight, field_shape).reshape(-1)[self.ocean]
        x = np.nan_to_num(flat[:, self.ocean]) * self.weight
        _, _, vt = np.linalg.svd(x[train_steps], full_matrices=False)
        eofs = vt[:modes].T  # (points, modes)
        pcs = x @ eofs
        c0 = pcs[train_pairs].T @ pcs[train_pairs]
        c1 = pcs[train_pairs + 1].T @ pcs[train_pairs]
        propagator = c1 @ np.linalg.pinv(c0)  # pinv: a short record may leave C(0) singular
        # one step on weighted row vectors: x' = x K
        self.step = eofs @ propagator.T @ eofs.T
        if residual_damping:
            residual = x - pcs @ eofs.T
            r0, r1 = residual[train_pairs], residual[train_pairs + 1]
            with np.errstate(invalid="ignore", divide="ignore"):
                r = np.nan_to_num((r0 * r1).sum(axis=0) / (r0 * r0).sum(axis=0))
            self.step += (np.eye(eofs.shape[0]) - eofs @ eofs.T) * r[None, :]
        self.field_shape, self.points = field_shape, flat.shape[1]

    def operator(self, lead: int = 1) -> np.ndarray:
        """The lead-step forecast as one matrix M on flattened anomalies, a' = a @ M (zero rows/columns on land)."""
        ocean_map = self.weight[:, None] * np.linalg.matrix_power(self.step, lead) / self.weight[None, :]
        matrix = np.zeros((self.points, self.points))
        matrix[np.ix_(self.ocean, self.ocean)] = ocean_map
        return matrix.astype("float32")

    def forecast(self, initial_anomaly: np.ndarray, lead: int) -> np.ndarray:
        """(N, *field) anomalies at init -> (N, *field) forecast anomalies `lead` steps later (NaN on land)."""
        flat = initial_anomaly.reshape(initial_anomaly.shape[0], -1).astype("float64")
        x = np.nan_to_num(flat[:, self.ocean]) * self.weight
        out = np.full((flat.shape[0], self.points), np.nan)
        out[:, self.ocean] = (x @ np.linalg.matrix_power(self.step, lead)) / self.weight
        return out.reshape(-1, *self.field_shape).astype("float32")


class NeighbourhoodRidge:
    """Ridge autoregression per grid point: the anomaly `lead` steps ahead from the anomalies of the point and its
    3 x 3 neighbours at the last `lags` steps (edges repeated). One ridge per point, fitted on training pairs."""

    def __init__(
        self, anomalies: np.ndarray, inits: np.ndarray, lead: int, lags: tuple[int, ...], alpha: float
    ) -> None:
        self.lead, self.lags = lead, lags
        x = self._features(anomalies, inits)  # (N, P, F)
        y = np.nan_to_num(anomalies[inits + lead].reshape(inits.size, -1).astype("float64"))
        gram = np.einsum("npf,npg->pfg", x, x)
        gram += alpha * inits.size * np.eye(x.shape[-1])[None]
        self.coef = np.linalg.solve(gram, np.einsum("npf,np->pf", x, y)[..., None])[..., 0]  # (P, F)
        self.field_shape = anomalies.shape[1:]

    def _features(self, anomalies: np.ndarray, inits: np.ndarray) -> np.ndarray:
        frames = []
        for lag in self.lags:
            a = np.nan_to_num(anomalies[np.maximum(inits - lag, 0)].astype("float64"))
            padded = np.pad(a, [(0, 0)] * (a.ndim - 2) + [(1, 1), (1, 1)], mode="edge")
            h, w = a.shape[-2:]
            frames += [padded[..., i : i + h, j : j + w] for i in range(3) for j in range(3)]
        stacked = np.stack(frames, axis=-1)  # (N, *field, F)
        return stacked.reshape(inits.size, -1, stacked.shape[-1])

    def forecast(self, anomalies: np.ndarray, inits: np.ndarray) -> np.ndarray:
        out = np.einsum("npf,pf->np", self._features(anomalies, inits), self.coef)
        return out.reshape(-1, *self.field_shape).astype("float32")


def ridge_inits(is_train: np.ndarray, train_pairs: np.ndarray, lags: tuple[int, ...]) -> np.ndarray:
    """Training pairs whose every lagged input is a training step too."""
    oldest = train_pairs - max(lags)
    return train_pairs[(oldest >= 0) & is_train[np.maximum(oldest, 0)]]


def damping_as_local(r: np.ndarray, history: int) -> np.ndarray:
    """Damped persistence as neighbourhood coefficients (points, 9 * history): r on the centre of the newest frame."""
    coef = np.zeros((r.size, 9 * history), dtype="float32")
    coef[:, 4] = r.reshape(-1)
    return coef
