"""Classical baselines the encoder must beat, fitted and scored on the same folds.

- pixels + logistic regression: the image shrunk to 32 x 32 grey pixels plus a 16-bin grey histogram, standardised
  (the reference figure of the shared data README: macro-F1 0.51 on the planktonclas images);
- handcrafted morphology + random forest: shape and grey-level descriptors of the segmented object
  (`hfm.plankton.metrics.morphology_features`) and the object's size in micrometres, as Zooprocess/EcoTaxa
  features are used with random forests in practice.
"""

from __future__ import annotations

import math

import numpy as np
from skimage.transform import resize
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hfm.plankton.metrics import measure_traits, morphology_features


def pixel_features(grey: np.ndarray, side: int = 32, bins: int = 16) -> np.ndarray:
    small = resize(grey, (side, side), order=1, anti_aliasing=True, preserve_range=True)
    histogram = np.histogram(grey, bins=bins, range=(0.0, 1.0))[0] / grey.size
    return np.concatenate([small.ravel(), histogram])


def morphology_with_size(grey: np.ndarray, pixel_size_um: float) -> np.ndarray:
    traits = measure_traits(grey, pixel_size_um)
    sizes = [math.log1p(traits[k]) if np.isfinite(traits[k]) else 0.0 for k in ("esd_um", "major_um", "minor_um")]
    return np.concatenate([morphology_features(grey), sizes])


def pixel_logistic(seed: int = 0):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))


def morphology_forest(seed: int = 0):
    return RandomForestClassifier(n_estimators=300, class_weight="balanced", random_state=seed, n_jobs=1)
