"""Classification head on encoder embeddings: class-weighted for imbalance, with a confidence threshold.

Plankton classes are heavily imbalanced (a few abundant groups, many rare ones), so the head weights each class by
the inverse of its frequency. Below `threshold` the most probable class is not trusted and the object stays
unassigned (`None`), to be looked at by a person, as EcoTaxa's "predicted" objects are. The head is stored as JSON
(weights and standardisation), never pickled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

from hfm.shared.errors import HFMError


@dataclass
class ClassificationHead:
    classes: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray
    threshold: float = 0.0

    @classmethod
    def fit(
        cls,
        features: np.ndarray,
        labels: np.ndarray,
        class_weight: str | None = "balanced",
        regularization: float = 1.0,
        threshold: float = 0.0,
        seed: int = 0,
    ) -> ClassificationHead:
        labels = np.asarray(labels).astype(str)
        if len(np.unique(labels)) < 2:
            raise HFMError(f"a classifier needs at least two classes, got {sorted(set(labels))}")
        mean, scale = features.mean(0), features.std(0) + 1e-8
        model = LogisticRegression(
            C=1.0 / regularization, class_weight=class_weight, max_iter=5000, random_state=seed
        ).fit((features - mean) / scale, labels)
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # sklearn stores one row for two classes; keep one per class
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        return cls(list(model.classes_), mean, scale, coef, intercept, threshold)

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = ((features - self.mean) / self.scale) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, features: np.ndarray, threshold: float | None = None) -> tuple[list[str | None], np.ndarray]:
        """Labels (None below the confidence threshold) and the confidence of the best class."""
        probabilities = self.probabilities(features)
        best, confidence = probabilities.argmax(1), probabilities.max(1)
        cut = self.threshold if threshold is None else threshold
        return [self.classes[b] if c >= cut else None for b, c in zip(best, confidence, strict=True)], confidence

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        data = {
            "classes": self.classes,
            "threshold": self.threshold,
            **{k: getattr(self, k).tolist() for k in ("mean", "scale", "coef", "intercept")},
        }
        path.write_text(json.dumps(data, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> ClassificationHead:
        try:
            data = json.loads(Path(path).read_text())
            arrays = {k: np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef", "intercept")}
            return cls(list(data["classes"]), threshold=float(data["threshold"]), **arrays)
        except (OSError, KeyError, ValueError) as error:
            raise HFMError(f"{path}: not a plankton classification head ({error})") from error


def coverage_scores(truth: np.ndarray, predicted: list[str | None]) -> dict[str, float]:
    """Share of objects assigned, and accuracy / macro-F1 over the assigned ones only."""
    truth = np.asarray(truth).astype(str)
    assigned = np.array([p is not None for p in predicted])
    if not assigned.any():
        return {"coverage": 0.0, "accuracy_assigned": float("nan"), "macro_f1_assigned": float("nan")}
    guess = np.array([p for p in predicted if p is not None])
    return {
        "coverage": float(assigned.mean()),
        "accuracy_assigned": float(accuracy_score(truth[assigned], guess)),
        "macro_f1_assigned": float(f1_score(truth[assigned], guess, average="macro")),
    }
