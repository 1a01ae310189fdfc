"""Evaluation protocols: confidence intervals on known inputs, probes against their baselines, reports."""

import json
import math

import numpy as np
import pytest
import torch

from hfm.shared.errors import HFMError
from hfm.shared.eval import (
    embed,
    finetune,
    knn_probe,
    label_efficiency,
    linear_probe,
    mean_confidence_interval,
    subsample,
    write_report,
)
from hfm.shared.models.registry import create_model


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def blobs(n: int, seed: int, dims: int = 8, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = np.random.default_rng(99).normal(size=(classes, dims)) * 2
    return centres[labels] + rng.normal(size=(n, dims)), labels


def test_confidence_interval_matches_the_t_table():
    mean, low, high = mean_confidence_interval([1.0, 2.0, 3.0])
    # s = 1, n = 3, t_{0.975, 2} = 4.302653 -> half width 4.302653 / sqrt(3) = 2.484138
    assert mean == 2.0 and low == pytest.approx(2.0 - 2.484138, abs=1e-6) and high == pytest.approx(4.484138, abs=1e-6)
    mean, low, high = mean_confidence_interval([0.5, 0.7, 0.6, 0.8, 0.9], confidence=0.9)
    # s = 0.158114, t_{0.95, 4} = 2.131847 -> half width 0.150744
    assert (mean, high - mean) == (pytest.approx(0.7), pytest.approx(0.150744, abs=1e-6))
    assert mean_confidence_interval([4.0, 4.0, 4.0]) == (4.0, 4.0, 4.0)
    assert math.isnan(mean_confidence_interval([1.0])[1])


def test_linear_and_knn_probes_beat_the_majority_baseline_on_separable_data():
    train_x, train_y = blobs(150, 0)
    test_x, test_y = blobs(90, 1)
    for probe in (linear_probe, knn_probe):
        result = probe(train_x, train_y, test_x, test_y)
        assert result.metric == "accuracy" and result.value > 0.9 and result.baseline < 0.5, result
        assert (result.n_train, result.n_test) == (150, 90)
    noise = np.random.default_rng(3).normal(size=(150, 8))
    chance = linear_probe(noise, train_y, test_x, test_y)
    assert chance.value < 0.6  # labels unrelated to the features: near chance, not above 0.9


def test_ridge_probe_reports_r2_against_the_training_mean():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5))
    y = x @ np.array([1.0, -2.0, 0.5, 0.0, 0.0]) + 0.1 * rng.normal(size=200)
    result = linear_probe(x[:150], y[:150], x[150:], y[150:], task="regression", regularization=0.1)
    assert result.metric == "r2" and result.value > 0.98 and result.baseline < 0.05
    assert result.extra["rmse"] < 0.2 < result.extra["baseline_rmse"]


def test_probes_name_bad_inputs():
    x, y = blobs(20, 0)
    with pytest.raises(HFMError, match="two classes"):
        linear_probe(x, np.zeros(20), x, y)
    with pytest.raises(HFMError, match="differ in length"):
        knn_probe(x, y[:5], x, y)


def test_subsample_is_stratified_seeded_and_sized():
    labels = np.array([0] * 90 + [1] * 8 + [2] * 2)
    index = subsample(labels, 0.05, seed=0, classification=True)
    assert len(index) == 5 and set(labels[index]) == {0, 1, 2}
    assert np.array_equal(index, subsample(labels, 0.05, seed=0, classification=True))
    assert not np.array_equal(index, subsample(labels, 0.05, seed=1, classification=True))
    assert len(subsample(labels, 1.0, seed=0, classification=True)) == 100


def test_label_efficiency_runs_every_fraction_and_seed_and_rises(tmp_path):
    train_x, train_y = blobs(300, 0)
    test_x, test_y = blobs(150, 1)
    curve = label_efficiency(train_x, train_y, test_x, test_y, name="blobs")
    assert [p.fraction for p in curve.points] == [0.01, 0.05, 0.1, 0.5, 1.0]
    assert [p.labels for p in curve.points] == [3, 15, 30, 150, 300]
    assert all(len(p.values) == 3 and p.low <= p.mean <= p.high for p in curve.points)
    assert curve.points[-1].mean > 0.9 > curve.baseline + 0.4
    assert curve.points[-1].mean >= curve.points[0].mean
    with pytest.raises(HFMError, match="at least 3 seeds"):
        label_efficiency(train_x, train_y, test_x, test_y, seeds=(0, 1))
    noise = label_efficiency(np.random.default_rng(5).normal(size=(300, 8)), train_y, test_x, test_y, name="noise")
    report = write_report(
        tmp_path / "report", "blobs", {"blobs": linear_probe(train_x, train_y, test_x, test_y)}, [curve, noise]
    )
    text = report.read_text()
    assert "| blobs | linear | 1 | 3 | 3 |" in text and "![label efficiency](label_efficiency.png)" in text
    png = (tmp_path / "report" / "label_efficiency.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["curves"][0]["points"][4]["mean"] == pytest.approx(curve.points[4].mean)


def test_finetune_trains_a_head_on_the_encoder_and_leaves_the_encoder_untouched():
    torch.manual_seed(0)
    encoder = create_model("series-encoder-tiny", channels=1, patch_len=8, width=32, depth=1, heads=2)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 96)
    t = np.arange(64)
    # class 0: slow sine, class 1: fast sine, random phase and amplitude
    freq = np.where(labels == 0, 0.1, 0.6)[:, None]
    x = rng.uniform(0.5, 2, (96, 1)) * np.sin(freq * t + rng.uniform(0, 6.3, (96, 1)))
    data = torch.tensor(x[:, None, :], dtype=torch.float32)
    result = finetune(encoder, data[:64], labels[:64], data[64:], labels[64:], epochs=15, lr=3e-3)
    assert result.protocol == "finetune" and result.value >= 0.9 > result.baseline + 0.2, result
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    frozen = embed(encoder, data)
    assert frozen.shape == (96, 32) and frozen.dtype == np.float32
