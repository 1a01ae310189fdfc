"""The contrastive encoder, its augmentation, the scratch CNN and the repeated-CV comparisons, on small seeded data."""

import numpy as np
import pytest
import torch

from hfm.plankton.experiments.crossval import cross_validate, fitted_predict, leave_one_out_knn, linear_head
from hfm.plankton.models.cnn import (
    EncoderConfig,
    augment,
    encode,
    nt_xent,
    predict_scratch_cnn,
    pretrain_encoder,
    standardise,
    train_scratch_cnn,
)
from hfm.plankton.synthetic import discs_and_bars


def test_standardise_puts_background_at_zero():
    canvases, _ = discs_and_bars(4)
    x = standardise(canvases)
    assert x.shape == (4, 1, 32, 32)
    assert torch.allclose(x[:, 0, 0, 0], torch.zeros(4), atol=0.3)


def test_augment_keeps_shape_and_is_seeded():
    x = standardise(discs_and_bars(6)[0])
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.allclose(a, x)


def test_nt_xent_is_low_for_matching_views():
    z = torch.randn(8, 16)
    assert float(nt_xent(z, z, 0.2)) < float(nt_xent(z, torch.randn(8, 16), 0.2))


def test_pretraining_lowers_the_contrastive_loss_and_features_separatediscs_and_bars():
    canvases, labels = discs_and_bars(64)
    encoder, log = pretrain_encoder(canvases, EncoderConfig(canvas=32, width=8, steps=40, batch=32, seed=0))
    assert log["loss_last"] < log["loss_first"]
    features = encode(encoder, canvases)
    assert features.shape == (64, encoder.dim)
    assert leave_one_out_knn(features, labels).mean() > 0.8


def test_scratch_cnn_learns_twodiscs_and_bars():
    canvases, labels = discs_and_bars(80, seed=1)
    model = train_scratch_cnn(canvases[:60], labels[:60], steps=60, width=8, batch=32, seed=0)
    assert (predict_scratch_cnn(model, canvases[60:]) == labels[60:]).mean() >= 0.8


def test_repeated_cv_same_folds_and_corrected_test():
    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 20)
    good = np.eye(3)[np.searchsorted(["a", "b", "c"], labels)] * 3 + rng.standard_normal((60, 3))
    noise = rng.standard_normal((60, 3))
    result = cross_validate(
        labels,
        {"good": fitted_predict(linear_head, good, labels), "noise": fitted_predict(linear_head, noise, labels)},
        repeats=2,
        folds=5,
        first_repeat_only={"noise"},
    )
    assert len(result.scores["good"].folds) == 10 and result.scores["noise"].folds == [0, 1, 2, 3, 4]
    assert (result.n_train, result.n_test) == (48, 12)
    test = result.compare("good", "noise")
    assert test.n == 5 and test.low > 0.3  # only the folds both were scored on
    # The corrected interval is wider than the naive one: (1/J + n_test/n_train) against 1/J.
    d = np.subtract(result.scores["good"].macro_f1[:5], result.scores["noise"].macro_f1)
    assert test.high - test.estimate > 2.776 * d.std(ddof=1) / np.sqrt(5)


def test_leave_one_out_knn_never_matches_an_image_with_itself():
    features = np.array([[0.0, 0.0], [0.0, 0.1], [5.0, 5.0], [5.0, 5.1]])
    assert leave_one_out_knn(features, np.array(["x", "x", "y", "y"]), metric="euclidean").tolist() == [1, 1, 1, 1]
    assert leave_one_out_knn(features, np.array(["x", "y", "x", "y"]), metric="euclidean").tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("fraction", [0.1, 1.0])
def test_subsample_keeps_two_per_class(fraction):
    from hfm.plankton.experiments.study import _subsample

    labels = np.repeat(["a", "b"], [30, 5])
    subset = _subsample(np.arange(35), labels, fraction, seed=0)
    assert (labels[subset] == "b").sum() >= 2 and len(subset) <= 35


def test_fine_tuning_starts_from_a_copy_of_the_pretrained_encoder():
    canvases, labels = discs_and_bars(40, seed=2)
    encoder, _ = pretrain_encoder(canvases, EncoderConfig(canvas=32, width=8, steps=5, batch=16, seed=0))
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    network, _, _ = train_scratch_cnn(canvases, labels, steps=5, width=8, batch=16, seed=0, init=encoder)
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # the encoder itself is untouched
    first = next(iter(before))
    scratch, _, _ = train_scratch_cnn(canvases, labels, steps=5, width=8, batch=16, seed=1)
    tuned_gap = (network.state_dict()[first] - before[first]).norm()
    scratch_gap = (scratch.state_dict()[first] - before[first]).norm()
    assert 0 < tuned_gap < 0.5 * scratch_gap  # moved by training, but from the pretrained weights


def test_cnn_trainings_in_parallel_processes_match_a_serial_run(monkeypatch):
    """The per-fold CNNs of the benchmark train in spawned processes; the predictions must not depend on that."""
    import os

    from hfm.plankton.experiments import study

    canvases, labels = discs_and_bars(48, seed=3)
    encoder, _ = pretrain_encoder(canvases[:24], EncoderConfig(canvas=32, width=8, steps=3, batch=16, seed=0))
    jobs = [
        (canvases[:32], labels[:32], canvases[32:], 6, 8, 16, seed, init)
        for seed, init in ((0, None), (1, encoder.state_dict()))
    ]
    parallel = study.parallel_map(study._train_and_predict, jobs)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})  # one CPU: the same jobs in this process
    serial = study.parallel_map(study._train_and_predict, jobs)
    assert [p.tolist() for p in parallel] == [s.tolist() for s in serial]
    assert len(parallel[0]) == 16 and set(parallel[0]) <= {"bar", "disc"}


def test_morphology_baseline_and_hybrid_head_share_one_forest_per_fold():
    from hfm.plankton.experiments.crossval import FoldForests, hybrid_predict

    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b"], 20)
    morphology = rng.standard_normal((40, 3)) + (labels == "b")[:, None] * 2.0
    forests = FoldForests(morphology, labels, seed=0)
    train, test = np.arange(0, 40, 2), np.arange(1, 40, 2)
    hybrid = hybrid_predict(rng.standard_normal((40, 4)), forests, labels)(train, test, 0)
    first = forests.fitted(train)
    predicted = forests.method()(train, test, 0)
    assert forests.fitted(train) is first  # refitted only for another training set
    assert forests.fitted(test) is not first
    assert (predicted == labels[test]).mean() >= 0.8 and len(hybrid) == 20


def test_hybrid_weight_moves_the_prediction_from_the_forest_to_the_linear_head():
    from hfm.plankton.experiments.crossval import FoldForests, hybrid_predict, linear_head

    rng = np.random.default_rng(1)
    labels = np.repeat(["a", "b", "c"], 20)
    # The embeddings tell a from the rest, the morphology b from the rest: the two heads disagree on many objects.
    embeddings = rng.standard_normal((60, 4)) + (labels == "a")[:, None] * 1.5
    morphology = rng.standard_normal((60, 3)) + (labels == "b")[:, None] * 1.5
    forests = FoldForests(morphology, labels, seed=0)
    train, test = np.arange(0, 60, 2), np.arange(1, 60, 2)
    only_forest = hybrid_predict(embeddings, forests, labels, weight=0.0)(train, test, 0)
    only_head = hybrid_predict(embeddings, forests, labels, weight=1.0)(train, test, 0)
    assert only_forest.tolist() == forests.method()(train, test, 0).tolist()
    assert only_head.tolist() == linear_head(0).fit(embeddings[train], labels[train]).predict(embeddings[test]).tolist()
    assert only_head.tolist() != only_forest.tolist()
    with pytest.raises(ValueError, match="share"):
        hybrid_predict(embeddings, forests, labels, weight=1.5)
