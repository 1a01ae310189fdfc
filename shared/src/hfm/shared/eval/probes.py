"""Probes on frozen embeddings (scikit-learn): how much a representation tells about a label without training it.

Every result carries the baseline of predicting without the input (majority class; training mean for regression),
measured on the same test set, so a number is never read alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, mean_squared_error, r2_score
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hfm.shared.errors import HFMError

TASKS = ("classification", "regression")


@dataclass
class ProbeResult:
    protocol: str
    task: str
    metric: str  # the headline metric: accuracy (classification) or r2 (regression); higher is better
    value: float
    baseline: float  # the same metric without the input: majority class, or the training mean
    n_train: int
    n_test: int
    extra: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)  # what is not a number: options, per-epoch history

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray, task: str) -> None:
    if task not in TASKS:
        raise HFMError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if len(train_x) != len(train_y) or len(test_x) != len(test_y):
        raise HFMError(
            f"embeddings and labels differ in length: {len(train_x)}/{len(train_y)}, {len(test_x)}/{len(test_y)}"
        )
    if len(train_x) == 0 or len(test_x) == 0:
        raise HFMError("a probe needs training and test samples")
    if task == "classification" and len(np.unique(train_y)) < 2:
        raise HFMError("a classification probe needs at least two classes among the training labels")


def score(task: str, protocol: str, train_y: np.ndarray, test_y: np.ndarray, predicted: np.ndarray) -> ProbeResult:
    if task == "classification":
        values, counts = np.unique(train_y, return_counts=True)
        majority = values[counts.argmax()]
        return ProbeResult(
            protocol,
            task,
            "accuracy",
            float(accuracy_score(test_y, predicted)),
            float(np.mean(test_y == majority)),
            len(train_y),
            len(test_y),
            {
                "balanced_accuracy": float(balanced_accuracy_score(test_y, predicted)),
                "macro_f1": float(f1_score(test_y, predicted, average="macro")),
            },
        )
    mean_only = np.full(len(test_y), float(np.mean(train_y)))
    return ProbeResult(
        protocol,
        task,
        "r2",
        float(r2_score(test_y, predicted)),
        float(r2_score(test_y, mean_only)),
        len(train_y),
        len(test_y),
        {
            "rmse": float(np.sqrt(mean_squared_error(test_y, predicted))),
            "baseline_rmse": float(np.sqrt(mean_squared_error(test_y, mean_only))),
        },
    )


def linear_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    task: str = "classification",
    regularization: float = 1.0,
    seed: int = 0,
) -> ProbeResult:
    """Standardised features, then logistic regression (C = 1/regularization) or ridge (alpha = regularization)."""
    train_x, test_x = np.asarray(train_x, np.float64), np.asarray(test_x, np.float64)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    _check(train_x, train_y, test_x, test_y, task)
    if task == "classification":
        head = LogisticRegression(C=1.0 / regularization, max_iter=5000, random_state=seed)
    else:
        head = Ridge(alpha=regularization, random_state=seed)
    model = make_pipeline(StandardScaler(), head).fit(train_x, train_y)
    return score(task, "linear", train_y, test_y, model.predict(test_x))


def knn_probe(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    test_y: np.ndarray,
    task: str = "classification",
    k: int = 5,
    seed: int = 0,
) -> ProbeResult:
    """k nearest neighbours by cosine distance, distance-weighted votes; k is capped at the training set size."""
    train_x, test_x = np.asarray(train_x, np.float64), np.asarray(test_x, np.float64)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    _check(train_x, train_y, test_x, test_y, task)
    k = min(k, len(train_x))
    cls = KNeighborsClassifier if task == "classification" else KNeighborsRegressor
    model = cls(n_neighbors=k, metric="cosine", weights="distance").fit(train_x, train_y)
    return score(task, "knn", train_y, test_y, model.predict(test_x))
