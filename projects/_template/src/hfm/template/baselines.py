"""The field's strongest classical method, fitted on the same training split: here, logistic regression on the
magnitude spectrum (what a signal-processing engineer would try first on periodic signals)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def spectrum_features(x: torch.Tensor) -> np.ndarray:
    return np.log1p(np.abs(np.fft.rfft(x.numpy()[:, 0, :], axis=-1)))


def spectrum_logistic(train_x: torch.Tensor, train_y: list[str], test_x: torch.Tensor) -> list[str]:
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(spectrum_features(train_x), train_y)
    return list(model.predict(spectrum_features(test_x)))
