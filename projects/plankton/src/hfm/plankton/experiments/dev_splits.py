"""A steadier dev protocol for the label-efficiency choices: inner splits of every outer training fold.

Choices for the semi-supervised classifier (which head, which FixMatch recipe) must never see the test fold they are
scored on. One inner split of one training fold (224 dev-test images) moved the fused score by 0.02-0.04 from split
to split, so no choice could be told from noise. Here each of the outer folds' training folds is split again, 4:1
stratified, `inner` times; the inner training part gets the same labelled subset rule as the benchmark (a stratified
`fraction`, at least two per class) and the rest of it is the unlabelled pool. A dev split never holds a row of its
own outer fold's test fold (`DevSplit` checks it). Candidates are compared by their paired differences over all the
dev splits with the Nadeau-Bengio correction (`compare`), as the test folds are.

The dev-test images of outer fold k are test images of the other outer folds: choices made here are few and coarse,
and the benchmark's test folds are run once with what was chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

from hfm.shared.eval.stats import HypothesisTest, nadeau_bengio_ttest


@dataclass(frozen=True)
class DevSplit:
    outer: int  # the outer fold whose training fold this split lies in
    inner: int
    labelled: np.ndarray  # corpus-source rows with their labels used
    pool: np.ndarray  # rows of the inner training part used without their labels
    test: np.ndarray  # dev-test rows

    def check(self, outer_test: np.ndarray) -> None:
        """Refuse a split that touches its outer test fold or mixes its own parts."""
        parts = (self.labelled, self.pool, self.test)
        for part in parts:
            if np.intersect1d(part, outer_test).size:
                raise ValueError(f"dev split {self.outer}/{self.inner} holds rows of its outer test fold")
        if np.intersect1d(self.labelled, self.pool).size or np.intersect1d(self.test, self.pool).size:
            raise ValueError("labelled, pool and dev-test rows must be disjoint")
        if np.intersect1d(self.labelled, self.test).size:
            raise ValueError("labelled and dev-test rows must be disjoint")


def stratified_subset(rows: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A stratified `fraction` of `rows`, at least two per class (the benchmark's labelled-subset rule)."""
    if fraction >= 1.0:
        return np.asarray(rows)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels[rows]):
        members = rows[labels[rows] == c]
        keep.extend(rng.choice(members, max(2, round(fraction * len(members))), replace=False))
    return np.sort(np.asarray(keep))


def dev_splits(
    labels: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    fraction: float,
    inner: int = 2,
    seed: int = 100,
) -> list[DevSplit]:
    """`inner` 4:1 stratified splits of each outer training fold, with a labelled `fraction` of the inner training
    part; seeded per outer fold and split, so the same on every run."""
    out = []
    for k, (train, test) in enumerate(folds):
        splitter = StratifiedKFold(5, shuffle=True, random_state=seed + k)
        for i, (a, b) in enumerate(splitter.split(np.zeros(len(train)), labels[train])):
            if i >= inner:
                break
            labelled = stratified_subset(train[a], labels, fraction, seed=10 * k + i)
            split = DevSplit(k, i, labelled, np.setdiff1d(train[a], labelled), np.sort(train[b]))
            split.check(test)
            out.append(split)
    return out


def compare(candidate: list[float], reference: list[float], splits: list[DevSplit]) -> HypothesisTest:
    """candidate - reference over the dev splits, Nadeau-Bengio corrected (the splits share training images)."""
    n_train = round(np.mean([len(s.labelled) + len(s.pool) for s in splits]))
    n_test = round(np.mean([len(s.test) for s in splits]))
    return nadeau_bengio_ttest(np.asarray(candidate) - np.asarray(reference), n_train, n_test)
