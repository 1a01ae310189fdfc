"""Score a fine-tuned model and the baseline on the test split, per test unit (one signal), for paired intervals."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hfm.shared.artifacts import load_pretrained
from hfm.template.baselines import spectrum_logistic
from hfm.template.data import classes_of, load_split


@dataclass(frozen=True)
class TestScores:
    hfm_correct: np.ndarray  # 1.0 where hfm's class is right, per test signal
    baseline_correct: np.ndarray
    n_test: int


def predict(model_dir: Path, dataset: Path, split: str = "test") -> list[str]:
    model, _ = load_pretrained(model_dir)
    x, _ = load_split(dataset, split)
    with torch.no_grad():
        index = model.eval()(x).argmax(1).numpy()
    classes = classes_of(dataset)
    return [classes[i] for i in index]


def score(model_dir: Path, dataset: Path) -> TestScores:
    _, truth = load_split(dataset, "test")
    train_x, train_y = load_split(dataset, "train")
    test_x, _ = load_split(dataset, "test")
    ours = np.array([p == t for p, t in zip(predict(model_dir, dataset), truth, strict=True)], dtype=float)
    theirs = np.array(
        [p == t for p, t in zip(spectrum_logistic(train_x, train_y, test_x), truth, strict=True)], dtype=float
    )
    return TestScores(ours, theirs, len(truth))
