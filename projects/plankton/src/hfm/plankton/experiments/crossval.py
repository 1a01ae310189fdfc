"""Repeated stratified cross-validation of hfm heads and baselines on the same folds, with corrected paired tests.

Every method sees the same `repeats x folds` stratified splits; each returns predictions on the test fold, scored by
macro-F1 (and accuracy). Folds of repeated CV share training data, so hfm - baseline per fold is compared with the
Nadeau-Bengio corrected resampled t-test (`hfm.shared.eval.stats.nadeau_bengio_ttest`), never a plain t-test.
Methods that are expensive (a CNN trained per fold) may run on the first repeat only; they are then compared on
those folds.

Methods here work on precomputed features: the frozen encoder's embeddings, the canvases' pixels and the
morphology descriptors are computed once for the whole set (no labels involved), the heads are fitted per fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hfm.plankton.baselines import morphology_forest
from hfm.shared.eval.stats import HypothesisTest, nadeau_bengio_ttest

# A method: (train rows, test rows, fold number) -> predicted labels of the test rows.
Method = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


@dataclass
class FoldScores:
    macro_f1: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    folds: list[int] = field(default_factory=list)  # index of the split each score belongs to

    @property
    def mean(self) -> float:
        return float(np.mean(self.macro_f1))


@dataclass
class CVResult:
    n: int
    repeats: int
    folds: int
    n_train: int  # mean training-fold size
    n_test: int  # mean test-fold size
    scores: dict[str, FoldScores]

    def compare(self, hfm: str, baseline: str, metric: str = "macro_f1") -> HypothesisTest:
        """hfm - baseline on the folds both were scored on, with the corrected t-test."""
        a, b = self.scores[hfm], self.scores[baseline]
        common = sorted(set(a.folds) & set(b.folds))
        va = dict(zip(a.folds, getattr(a, metric), strict=True))
        vb = dict(zip(b.folds, getattr(b, metric), strict=True))
        return nadeau_bengio_ttest([va[f] - vb[f] for f in common], self.n_train, self.n_test)

    def table(self) -> dict[str, dict[str, float]]:
        return {
            name: {
                "macro_f1": s.mean,
                "macro_f1_std": float(np.std(s.macro_f1)),
                "accuracy": float(np.mean(s.accuracy)),
                "folds_scored": len(s.folds),
            }
            for name, s in self.scores.items()
        }


def splits(labels: np.ndarray, repeats: int = 5, folds: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The stratified splits every method uses; repeat r holds splits r*folds .. r*folds + folds - 1."""
    if repeats == 1:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def cross_validate(
    labels: np.ndarray,
    methods: dict[str, Method],
    repeats: int = 5,
    folds: int = 5,
    seed: int = 0,
    first_repeat_only: set[str] | frozenset[str] = frozenset(),
) -> CVResult:
    labels = np.asarray(labels)
    folds_ = splits(labels, repeats, folds, seed)
    scores = {name: FoldScores() for name in methods}
    for number, (train, test) in enumerate(folds_):
        for name, method in methods.items():
            if name in first_repeat_only and number >= folds:
                continue
            predicted = np.asarray(method(train, test, number))
            scores[name].macro_f1.append(float(f1_score(labels[test], predicted, average="macro")))
            scores[name].accuracy.append(float(accuracy_score(labels[test], predicted)))
            scores[name].folds.append(number)
    return CVResult(
        n=len(labels),
        repeats=repeats,
        folds=folds,
        n_train=round(np.mean([len(t) for t, _ in folds_])),
        n_test=round(np.mean([len(t) for _, t in folds_])),
        scores=scores,
    )


def linear_head(seed: int = 0):
    """hfm's head on frozen embeddings: standardised features, class-weighted logistic regression."""
    return make_pipeline(
        StandardScaler(), LogisticRegression(C=0.5, class_weight="balanced", max_iter=3000, random_state=seed)
    )


def fitted_predict(model_factory, features: np.ndarray, labels: np.ndarray) -> Method:
    """A method that fits a fresh model on the training rows of `features` and predicts the test rows."""

    def method(train: np.ndarray, test: np.ndarray, fold: int) -> np.ndarray:
        return model_factory().fit(features[train], labels[train]).predict(features[test])

    return method


class FoldForests:
    """The morphology forest of each training set, fitted once and shared by the morphology baseline and the hybrid
    head: same seed, same rows, so the same forest; only the latest is kept (folds are visited in turn)."""

    def __init__(self, morphology: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        self.morphology, self.labels, self.seed = morphology, labels, seed
        self._latest: tuple[bytes, RandomForestClassifier] | None = None

    def fitted(self, train: np.ndarray) -> RandomForestClassifier:
        rows = np.asarray(train).tobytes()
        if self._latest is None or self._latest[0] != rows:
            forest = morphology_forest(self.seed).fit(self.morphology[train], self.labels[train])
            self._latest = (rows, forest)
        return self._latest[1]

    def method(self) -> Method:
        """The morphology + random forest baseline as a CV method."""
        return lambda train, test, fold: self.fitted(train).predict(self.morphology[test])


# The linear head's share of the hybrid's probabilities, chosen on the dev set (the WHOI wiki's 7 groups, 5 x 5 CV,
# never the evaluated sets): 0.3 gave macro-F1 +0.014 [-0.018, +0.047] over the plain mean (0.5), and FlowCam agreed
# in direction (+0.011); the only other value tried.
HYBRID_HEAD_WEIGHT = 0.3


def hybrid_predict(
    embeddings: np.ndarray, forests: FoldForests, labels: np.ndarray, seed: int = 0, weight: float = HYBRID_HEAD_WEIGHT
) -> Method:
    """Late fusion: class probabilities of the linear head on embeddings (share `weight`) and of the forest on
    morphology (the rest).

    The two see different evidence (learnt texture and shape vs. measured size and outline), so mixing their
    probabilities corrects one with the other; the forest, the stronger alone, gets the larger share.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight: {weight} is not a share in [0, 1]")

    def method(train: np.ndarray, test: np.ndarray, fold: int) -> np.ndarray:
        head = linear_head(seed).fit(embeddings[train], labels[train])
        forest = forests.fitted(train)
        assert list(head.classes_) == list(forest.classes_)
        probabilities = weight * head.predict_proba(embeddings[test]) + (1.0 - weight) * forest.predict_proba(
            forests.morphology[test]
        )
        return head.classes_[probabilities.argmax(axis=1)]

    return method


def leave_one_out_knn(features: np.ndarray, labels: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """1-NN leave-one-out: each image classified by its nearest other image; 1 where right, 0 where wrong.

    Only images whose class has at least one other member are scored (a singleton cannot be recognised).
    """
    labels = np.asarray(labels)
    x = StandardScaler().fit_transform(features)
    knn = KNeighborsClassifier(n_neighbors=2, metric=metric).fit(x, labels)
    neighbours = knn.kneighbors(x, return_distance=False)
    # The nearest neighbour of an image is itself (distance 0) unless a duplicate ties; take the first other one.
    other = np.where(neighbours[:, 0] == np.arange(len(x)), neighbours[:, 1], neighbours[:, 0])
    return (labels[other] == labels).astype(float)
