"""Annotation assist by validating pages of classifier predictions, as annotators work in EcoTaxa.

The oracle annotator is asked only what a person is asked, and every decision costs one, as in
`hfm.plankton.experiments.assist`:

1. Seeds: k-means (k = round(sqrt(n))) on the embeddings and morphology (each block standardised and given equal
   weight); the annotator names the most typical member of each cluster, one decision per object.
2. Pages: the hybrid classifier (linear head on the embeddings + random forest on morphology, mean probabilities)
   is fitted on every validated object and predicts the others. The next page holds up to `page` unvalidated
   objects predicted as the class of the most confident prediction, most confident first. One decision accepts the
   page as that class; one more per member that is not of that class, which the annotator re-labels. Every member
   of the page is then validated, and the classifier is fitted again before the next page.

Accuracy counts every object: a validated one by its label, any other by the latest prediction (as for
one by one + classifier). The figure is the number of decisions until the accuracy reaches the target; a page's
corrections are counted one at a time, so the count stops inside a page when the target is reached there.

The page size (30, a grid a person takes in at a glance) and the order (most confident first, EcoTaxa's
validation order; the least confident first was slower on the dev set, the WHOI wiki's 7 groups) were fixed
without the evaluated set.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestClassifier
from sklearn.preprocessing import StandardScaler

from hfm.plankton.experiments.crossval import linear_head
from hfm.shared.errors import HFMError

PAGE = 30
FOREST_TREES = 100  # fitted once per page: fewer trees than the baseline's 300 keep a run under a minute


def equal_weight_blocks(*blocks: np.ndarray) -> np.ndarray:
    """Standardised feature blocks side by side, each scaled so that it weighs the same in a Euclidean distance."""
    scaled = [StandardScaler().fit_transform(b) / math.sqrt(b.shape[1]) for b in blocks]
    return np.hstack(scaled)


def typical_members(features: np.ndarray, n_clusters: int, seed: int = 0) -> np.ndarray:
    """Index of the member closest to its centre, for each k-means cluster."""
    kmeans = KMeans(n_clusters=min(n_clusters, len(features)), n_init=10, random_state=seed).fit(features)
    distance = kmeans.transform(features)
    out = []
    for c in range(kmeans.n_clusters):
        members = np.flatnonzero(kmeans.labels_ == c)
        out.append(int(members[distance[members, c].argmin()]))
    return np.asarray(out)


def _hybrid_probabilities(
    embeddings: np.ndarray, morphology: np.ndarray, rows: np.ndarray, labels: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Classes and mean class probabilities of the linear head and the morphology forest, for every object."""
    classes = np.unique(labels)
    if len(classes) == 1:
        return classes, np.ones((len(embeddings), 1))
    head = linear_head(seed).fit(embeddings[rows], labels)
    forest = RandomForestClassifier(
        n_estimators=FOREST_TREES, class_weight="balanced", random_state=seed, n_jobs=1
    ).fit(morphology[rows], labels)
    return head.classes_, (head.predict_proba(embeddings) + forest.predict_proba(morphology)) / 2


def page_validation_decisions(
    embeddings: np.ndarray,
    morphology: np.ndarray,
    truth: np.ndarray,
    target: float = 0.9,
    page: int = PAGE,
    seed: int = 0,
) -> int | None:
    """Decisions until `target` accuracy (None if every object is validated first, which cannot happen for a
    target <= 1). `truth` is the oracle: read only for an object the annotator names or a page member re-labelled."""
    truth = np.asarray(truth).astype(str)
    n = len(truth)
    if not len(embeddings) == len(morphology) == n:
        raise HFMError(f"embeddings ({len(embeddings)}), morphology ({len(morphology)}), truth ({n}) differ in length")
    if page < 1:
        raise HFMError(f"page: {page} objects; a page holds at least one")
    validated = np.full(n, "", dtype=object)  # "" = not validated yet
    decisions = 0
    for i in typical_members(equal_weight_blocks(embeddings, morphology), round(math.sqrt(n)), seed):
        validated[i] = truth[i]
        decisions += 1
    needed = math.ceil(target * n - 1e-9)
    while True:
        known = np.flatnonzero(validated != "")
        classes, probabilities = _hybrid_probabilities(
            embeddings, morphology, known, validated[known].astype(str), seed
        )
        guess = classes[probabilities.argmax(1)]
        confidence = probabilities.max(1)
        current = np.where(validated != "", validated, guess)
        correct = int((current == truth).sum())
        if correct >= needed:
            return decisions
        open_ = np.flatnonzero(validated == "")
        if len(open_) == 0:
            return None
        shown = guess[open_[confidence[open_].argmax()]]
        members = open_[guess[open_] == shown]
        members = members[np.argsort(-confidence[members], kind="stable")][:page]
        decisions += 1  # the page accepted as `shown`
        for i in members:
            if truth[i] != shown:
                decisions += 1  # re-labelled by the annotator
                correct += 1
                if correct >= needed:
                    return decisions
            validated[i] = truth[i]
