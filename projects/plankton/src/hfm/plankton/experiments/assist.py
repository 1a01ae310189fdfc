"""Annotation assist: cluster embeddings and validate whole clusters at once, as MorphoCluster does.


`propose_clusters` groups objects (k-means, or scanpy's Leiden on a k-NN graph) and orders each cluster's members by
distance to its centre, so a person sees the most typical objects first and accepts or splits the cluster in one
look. `count_decisions` measures the gain with an oracle annotator standing in for the person:

- bulk: one decision per cluster (largest first) names its dominant class for all members; then one decision per
  object still wrong fixes it;
- one by one: each decision labels one object drawn at random;
- one by one + classifier: after each decision a class-weighted linear head trained on the labelled objects
  predicts the others (random sampling, no active learning).

Accuracy counts every object: an unlabelled one is wrong unless a classifier predicts it right. The figure is the
number of decisions each protocol needs to reach a target accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from hfm.shared.errors import HFMError

ClusterMethod = Literal["kmeans", "leiden"]


def cluster(features: np.ndarray, n_clusters: int = 12, method: ClusterMethod = "kmeans", seed: int = 0) -> np.ndarray:
    """Cluster index per object. Leiden (leidenalg, as scanpy uses it) takes `n_clusters / 10` as its resolution."""
    x = StandardScaler().fit_transform(features)
    if method == "kmeans":
        return KMeans(n_clusters=min(n_clusters, len(x)), n_init=10, random_state=seed).fit_predict(x)
    if method == "leiden":
        try:
            import igraph
            import leidenalg
        except ImportError as error:
            raise HFMError("Leiden clustering needs leidenalg: pip install 'hfm-plankton[assist]'") from error
        # The k-nearest-neighbour graph scanpy builds, partitioned by the same Leiden implementation it calls.
        k = min(15, len(x) - 1)
        neighbours = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]
        edges = {tuple(sorted((i, int(j)))) for i, row in enumerate(neighbours) for j in row}
        graph = igraph.Graph(n=len(x), edges=sorted(edges))
        partition = leidenalg.find_partition(
            graph, leidenalg.RBConfigurationVertexPartition, resolution_parameter=n_clusters / 10.0, seed=seed
        )
        return np.asarray(partition.membership)
    raise HFMError(f"unknown clustering method {method!r}; use kmeans or leiden")


def propose_clusters(features: np.ndarray, object_ids: list[str], clusters: np.ndarray) -> pd.DataFrame:
    """One row per object: cluster, cluster size, and rank by distance to the cluster centre (0 = most typical)."""
    x = StandardScaler().fit_transform(features)
    rows = []
    for c in np.unique(clusters):
        members = np.flatnonzero(clusters == c)
        centre = x[members].mean(0)
        distance = np.linalg.norm(x[members] - centre, axis=1)
        for rank, i in enumerate(members[np.argsort(distance, kind="stable")]):
            rows.append(
                {
                    "object_id": object_ids[i],
                    "cluster": int(c),
                    "cluster_size": len(members),
                    "rank": rank,
                    "distance": float(distance[members.tolist().index(i)]),
                }
            )
    table = pd.DataFrame(rows)
    return table.sort_values(["cluster_size", "cluster", "rank"], ascending=[False, True, True]).reset_index(drop=True)


@dataclass
class DecisionCount:
    target: float
    bulk: int | None
    one_by_one: int
    one_by_one_classifier: int | None
    bulk_curve: list[float]  # accuracy after each bulk decision
    clusters: int
    purity: float

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "target_accuracy": self.target,
            "decisions_bulk": self.bulk,
            "decisions_one_by_one": self.one_by_one,
            "decisions_one_by_one_classifier": self.one_by_one_classifier,
            "clusters": self.clusters,
            "cluster_purity": self.purity,
        }


def _first_reaching(curve: list[float], target: float) -> int | None:
    for decisions, accuracy in enumerate(curve, start=1):
        if accuracy >= target - 1e-12:
            return decisions
    return None


def _bulk_curve(truth: np.ndarray, clusters: np.ndarray) -> tuple[list[float], float]:
    n = len(truth)
    labels = np.full(n, None, dtype=object)
    curve = []
    ids, sizes = np.unique(clusters, return_counts=True)
    for c in ids[np.argsort(-sizes, kind="stable")]:
        members = clusters == c
        values, counts = np.unique(truth[members], return_counts=True)
        labels[members] = values[counts.argmax()]
        curve.append(float((labels == truth).mean()))
    purity = curve[-1]
    wrong = int((labels != truth).sum())
    for k in range(1, wrong + 1):
        curve.append(purity + k / n)
    return curve, purity


def _classifier_curve(features: np.ndarray, truth: np.ndarray, order: np.ndarray, checkpoints: list[int]) -> dict:
    x = StandardScaler().fit_transform(features)
    out = {}
    for k in checkpoints:
        labelled = order[:k]
        known = truth[labelled]
        if len(np.unique(known)) < 2:
            guess = np.full(len(truth), known[0] if len(known) else None, dtype=object)
        else:
            head = LogisticRegression(class_weight="balanced", max_iter=2000).fit(x[labelled], known)
            guess = head.predict(x).astype(object)
        guess[labelled] = known
        out[k] = float((guess == truth).mean())
    return out


def bulk_decisions(
    features: np.ndarray,
    truth: np.ndarray,
    target: float = 0.9,
    n_clusters: int = 12,
    method: ClusterMethod = "kmeans",
    seed: int = 0,
) -> int | None:
    """Decisions of bulk cluster validation alone (no classifier curve): the part that varies with the clustering's
    seed, so it can be repeated over seeds for an interval."""
    truth = np.asarray(truth).astype(str).astype(object)
    bulk, _ = _bulk_curve(truth, cluster(features, n_clusters, method, seed))
    return _first_reaching(bulk, target)


def count_decisions(
    features: np.ndarray,
    truth: np.ndarray,
    target: float = 0.9,
    n_clusters: int = 12,
    method: ClusterMethod = "kmeans",
    seed: int = 0,
) -> DecisionCount:
    truth = np.asarray(truth).astype(str).astype(object)
    n = len(truth)
    clusters = cluster(features, n_clusters, method, seed)
    bulk, purity = _bulk_curve(truth, clusters)
    order = np.random.default_rng(seed).permutation(n)
    checkpoints = sorted({max(1, round(f * n)) for f in np.linspace(0.05, 1.0, 20)})
    with_classifier = _classifier_curve(features, truth, order, checkpoints)
    reached = [k for k in checkpoints if with_classifier[k] >= target - 1e-12]
    return DecisionCount(
        target=target,
        bulk=_first_reaching(bulk, target),
        one_by_one=math.ceil(target * n - 1e-9),
        one_by_one_classifier=reached[0] if reached else None,
        bulk_curve=bulk,
        clusters=len(np.unique(clusters)),
        purity=purity,
    )
