"""hfm's semi-supervised classifier: FixMatch fine-tuning, the self-trained hybrid head, the unlabelled pool."""

import numpy as np
import pytest
import torch

from hfm.plankton.experiments.semi_supervised import (
    fuse,
    hybrid_probabilities,
    self_trained_hybrid,
    unlabelled_rows,
)
from hfm.plankton.models.cnn import standardise
from hfm.plankton.models.fixmatch import FixMatchConfig, cnn_probabilities, strong_augment, train_fixmatch_cnn
from hfm.plankton.synthetic import discs_and_bars


def _blobs(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three classes, 30 each: embeddings and morphology both carry the class, with noise."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(["a", "b", "c"], 30)
    centre = np.searchsorted(["a", "b", "c"], labels)[:, None]
    embeddings = rng.standard_normal((90, 4)) + 2.0 * (centre == np.arange(4))
    morphology = rng.standard_normal((90, 3)) + 2.0 * (centre == np.arange(3))
    return embeddings, morphology, labels


def test_unlabelled_pool_is_the_training_fold_minus_its_labels_and_never_a_test_row():
    train, test = np.arange(0, 20), np.arange(20, 30)
    labelled = np.array([1, 5, 7])
    pool = unlabelled_rows(train, labelled, test)
    assert pool.tolist() == [r for r in range(20) if r not in (1, 5, 7)]
    assert not np.intersect1d(pool, test).size
    with pytest.raises(ValueError, match="overlap"):
        unlabelled_rows(np.arange(0, 21), labelled, test)
    with pytest.raises(ValueError, match="inside the training fold"):
        unlabelled_rows(train, np.array([1, 25]), test)


def test_self_training_reads_no_label_of_the_unlabelled_rows_and_pseudo_labels_a_known_count():
    embeddings, morphology, labels = _blobs()
    test = np.arange(2, 90, 3)
    train = np.setdiff1d(np.arange(90), test)
    labelled = np.concatenate([train[labels[train] == c][:3] for c in ("a", "b", "c")])
    pool = unlabelled_rows(train, labelled, test)
    run = dict(embeddings=embeddings, morphology=morphology, labelled=labelled, unlabelled=pool, test=test)
    classes, probabilities, log = self_trained_hybrid(labels=labels, threshold=0.6, **run)
    scrambled = labels.copy()
    scrambled[pool] = "c"  # the pool's labels must not matter
    _, again, _ = self_trained_hybrid(labels=scrambled, threshold=0.6, **run)
    np.testing.assert_array_equal(probabilities, again)
    assert classes.tolist() == ["a", "b", "c"] and probabilities.shape == (30, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert log == {"pseudo_labelled": 24, "pool": 51}  # seeded: the pool rows at probability >= 0.6
    # With three classes nearly every row passes the default 0.4 (the top probability is at least 1/3).
    assert self_trained_hybrid(labels=labels, **run)[2]["pseudo_labelled"] == 51
    # Threshold above every probability: no pseudo-label, so the plain hybrid head on the labelled rows.
    _, none, log_none = self_trained_hybrid(labels=labels, threshold=1.01, **run)
    _, plain = hybrid_probabilities(embeddings, morphology, labelled, labels[labelled], test)
    assert log_none["pseudo_labelled"] == 0
    np.testing.assert_allclose(none, plain)
    accuracy = (classes[probabilities.argmax(axis=1)] == labels[test]).mean()
    assert accuracy >= 0.9


def test_fuse_weights_the_two_tables_and_refuses_mismatched_classes():
    cnn, hybrid = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    np.testing.assert_allclose(fuse(cnn, hybrid, share=0.3), [[0.3, 0.7]])
    with pytest.raises(ValueError, match="shape"):
        fuse(cnn, np.ones((1, 3)) / 3)


def test_strong_augment_cuts_out_a_square_and_is_seeded():
    x = standardise(discs_and_bars(4)[0]) + 5.0  # no pixel at the background level before
    a = strong_augment(x, torch.Generator().manual_seed(0))
    b = strong_augment(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    near_zero = (a.abs() < 0.5).flatten(1).float().mean(dim=1)  # the cut-out square plus the rotated-in border
    assert bool((near_zero > 0.05).all())


def test_fixmatch_is_seeded_learns_two_shapes_and_pseudo_labels_more_as_it_trains():
    canvases, labels = discs_and_bars(96, seed=4)
    labelled, unlabelled, test = slice(0, 8), slice(8, 72), slice(72, 96)
    config = FixMatchConfig(steps=40, batch=8, ratio=2, threshold=0.8, width=8, seed=0)
    model, log = train_fixmatch_cnn(canvases[labelled], labels[labelled], canvases[unlabelled], config)
    again, log_again = train_fixmatch_cnn(canvases[labelled], labels[labelled], canvases[unlabelled], config)
    probabilities = cnn_probabilities(model, canvases[test])
    np.testing.assert_array_equal(probabilities, cnn_probabilities(again, canvases[test]))
    assert log == log_again
    assert model[2] == ["bar", "disc"] and probabilities.shape == (24, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert log["pseudo_labelled_last"] > log["pseudo_labelled_first"]
    assert (np.asarray(model[2])[probabilities.argmax(axis=1)] == labels[test]).mean() >= 0.75


def test_fixmatch_trainings_in_parallel_processes_match_a_serial_run(monkeypatch):
    """The benchmark's FixMatch trainings run in spawned processes; their probabilities must not depend on that."""
    import os

    from hfm.plankton.experiments import study
    from hfm.plankton.models.cnn import PlanktonCNN

    canvases, labels = discs_and_bars(40, seed=5)
    init = PlanktonCNN(4).state_dict()
    config = FixMatchConfig(steps=3, batch=8, width=4, seed=0)
    jobs = [(canvases[:8], labels[:8], canvases[8:32], canvases[32:], config, 4, init)] * 2
    parallel = study.parallel_map(study._fixmatch_probabilities, jobs)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # one CPU: the same jobs in this process
    serial = study.parallel_map(study._fixmatch_probabilities, jobs)
    assert all(np.array_equal(p, s) for p, s in zip(parallel, serial, strict=True))
    assert parallel[0].shape == (8, 2)
