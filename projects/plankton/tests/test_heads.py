import numpy as np
import pytest

from hfm.plankton.experiments.assist import count_decisions, propose_clusters
from hfm.plankton.models.heads import ClassificationHead, coverage_scores


def blobs(seed=0, sizes=(60, 25, 8), spread=1.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 4, (len(sizes), 5))
    x = np.concatenate([rng.normal(c, spread, (n, 5)) for c, n in zip(centres, sizes, strict=True)])
    y = np.concatenate([[f"class{i}"] * n for i, n in enumerate(sizes)])
    return x, y


def test_class_weighting_helps_the_rare_class_and_threshold_abstains(tmp_path):
    x, y = blobs(sizes=(200, 200, 12), spread=2.5)
    test_x, test_y = blobs(seed=0, sizes=(200, 200, 12), spread=2.5)  # same centres, same draw: training fit
    weighted = ClassificationHead.fit(x, y, class_weight="balanced")
    plain = ClassificationHead.fit(x, y, class_weight=None)
    rare = test_y == "class2"
    recall = lambda head: np.mean(np.array(head.predict(test_x[rare])[0]) == "class2")  # noqa: E731
    assert recall(weighted) >= recall(plain)
    labels, confidence = weighted.predict(test_x, threshold=0.9)
    unassigned = [c for c, label in zip(confidence, labels, strict=True) if label is None]
    assert unassigned and max(unassigned) < 0.9
    scores = coverage_scores(test_y, labels)
    assert 0.5 < scores["coverage"] < 1.0 and scores["accuracy_assigned"] > 0.9
    path = weighted.save(tmp_path / "head.json")
    again = ClassificationHead.load(path)
    assert np.allclose(again.probabilities(test_x), weighted.probabilities(test_x))


def test_two_class_head_gives_one_probability_per_class():
    x, y = blobs(sizes=(30, 30))
    head = ClassificationHead.fit(x, y)
    p = head.probabilities(x)
    assert p.shape == (60, 2) and np.allclose(p.sum(1), 1)
    assert np.mean(np.array(head.predict(x)[0]) == y) > 0.95


def test_bulk_validation_needs_fewer_decisions_than_one_by_one():
    x, y = blobs(sizes=(60, 30, 10), spread=0.8)
    result = count_decisions(x, y, target=0.95, n_clusters=3)
    assert result.purity > 0.95
    assert result.bulk == 3  # one decision per cluster, clusters pure
    assert result.one_by_one == 95
    assert result.one_by_one_classifier is not None and result.bulk <= result.one_by_one_classifier


def test_leiden_clusters():
    pytest.importorskip("leidenalg", reason="the assist extra (leidenalg) is not installed")
    x, y = blobs(sizes=(40, 40), spread=0.5)
    result = count_decisions(x, y, target=0.9, n_clusters=5, method="leiden")
    assert result.purity > 0.9 and result.bulk is not None and result.bulk < result.one_by_one


def test_proposals_order_members_from_typical_to_odd():
    x, _ = blobs(sizes=(20, 10))
    table = propose_clusters(x, [f"o{i}" for i in range(30)], np.array([0] * 20 + [1] * 10))
    assert list(table["cluster_size"].iloc[[0, -1]]) == [20, 10]
    first = table[table["cluster"] == 0]
    assert list(first["rank"]) == list(range(20)) and first["distance"].is_monotonic_increasing


def test_bulk_decisions_alone_match_the_full_count_and_vary_only_with_the_seed():
    from hfm.plankton.experiments.assist import bulk_decisions

    rng = np.random.default_rng(3)
    centres = rng.normal(0, 4, size=(4, 8))
    y = np.repeat(np.array(["a", "b", "c", "d"]), 30)
    x = np.concatenate([c + rng.normal(0, 1.5, size=(30, 8)) for c in centres])
    full = count_decisions(x, y, target=0.9, n_clusters=6, seed=2)
    assert bulk_decisions(x, y, target=0.9, n_clusters=6, seed=2) == full.bulk
    assert bulk_decisions(x, y, target=0.9, n_clusters=6, seed=2) == bulk_decisions(x, y, 0.9, 6, seed=2)
