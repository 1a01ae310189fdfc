"""Evaluation protocols: confidence intervals on known inputs, probes against their baselines, reports."""

import json
import math

import numpy as np
import pytest
import torch

from hfm.shared.errors import HFMError
from hfm.shared.eval import (
    embed,
    knn_probe,
    label_efficiency,
    linear_probe,
    mean_confidence_interval,
    subsample,
    write_report,
)
from hfm.shared.eval.finetune import finetune
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
    assert all(len(p.values) == 5 and p.seeds == [0, 1, 2, 3, 4] and p.low <= p.mean <= p.high for p in curve.points)
    assert curve.points[-1].mean > 0.9 > curve.baseline + 0.4
    assert curve.points[-1].mean >= curve.points[0].mean
    with pytest.raises(HFMError, match="at least 3 seeds"):
        label_efficiency(train_x, train_y, test_x, test_y, seeds=(0, 1))
    noise = label_efficiency(np.random.default_rng(5).normal(size=(300, 8)), train_y, test_x, test_y, name="noise")
    report = write_report(
        tmp_path / "report", "blobs", {"blobs": linear_probe(train_x, train_y, test_x, test_y)}, [curve, noise]
    )
    text = report.read_text()
    assert "| blobs | linear | 1 | 3 | 5 |" in text and "![label efficiency](label_efficiency.png)" in text
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


def sine_classes(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Class 0: slow sine, class 1: fast sine, random phase and amplitude; (N, 1, 64) and labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    freq = np.where(labels == 0, 0.1, 0.6)[:, None]
    x = rng.uniform(0.5, 2, (n, 1)) * np.sin(freq * np.arange(64) + rng.uniform(0, 6.3, (n, 1)))
    return torch.tensor(x[:, None, :], dtype=torch.float32), labels


def tiny_encoder(depth: int = 2):
    torch.manual_seed(0)
    return create_model("series-encoder-tiny", channels=1, patch_len=8, width=32, depth=depth, heads=2)


def test_layer_decay_groups_give_each_depth_its_learning_rate():
    from hfm.shared.eval.finetune import EncoderWithHead, layer_decay_groups

    model = EncoderWithHead(tiny_encoder(depth=3), outputs=2)
    groups = layer_decay_groups(model, lr=1e-3, layer_decay=0.5, weight_decay=0.05)
    lr_of = {name: group["lr"] for group in groups for name in group["names"]}
    # 3 blocks: embedding = layer 0, block i = layer i + 1, final norm and head = layer 4
    assert lr_of["head.weight"] == lr_of["encoder.trunk.norm.weight"] == pytest.approx(1e-3)
    for block in range(3):
        expected = 1e-3 * 0.5 ** (3 - block)
        assert all(v == pytest.approx(expected) for k, v in lr_of.items() if f"trunk.blocks.{block}." in k)
    assert lr_of["encoder.embed.weight"] == lr_of["encoder.embed.bias"] == pytest.approx(1e-3 * 0.5**4)
    assert set(lr_of) == {name for name, _ in model.named_parameters()}  # every parameter in exactly one group
    assert sum(len(g["names"]) for g in groups) == len(lr_of)
    decay = {name: group["weight_decay"] for group in groups for name in group["names"]}
    assert decay["head.weight"] == 0.05 and decay["head.bias"] == 0.0 and decay["encoder.trunk.norm.weight"] == 0.0


def test_lp_ft_keeps_what_a_destructive_finetune_loses_and_validation_picks_the_epoch():
    from hfm.shared.eval.finetune import AdaptOptions, adapt

    data, labels = sine_classes(160)
    train, val, test = slice(0, 64), slice(64, 96), slice(96, 160)
    encoder = tiny_encoder()
    # A broken baseline: full fine-tuning at a learning rate that wrecks the encoder in its first steps.
    broken = adapt(
        encoder, data[train], labels[train], data[test], labels[test],
        options=AdaptOptions(recipe="finetune", epochs=6, lr=0.3),
    )  # fmt: skip
    lp_ft = adapt(
        encoder, data[train], labels[train], data[test], labels[test],
        options=AdaptOptions(recipe="lp-ft", probe_epochs=15, probe_lr=1e-2, epochs=6, lr=1e-4, layer_decay=0.7),
        validation=(data[val], labels[val]),
    )  # fmt: skip
    assert lp_ft.protocol == "lp-ft" and broken.value <= 0.7 and lp_ft.value >= 0.9, (broken, lp_ft)
    history = lp_ft.details["validation_history"]
    assert len(history) == 21 and lp_ft.extra["epochs"] == 21
    assert lp_ft.extra["validation_score"] == max(history)
    assert lp_ft.extra["best_epoch"] == 1 + history.index(max(history))  # the first epoch with the best score
    probe = adapt(
        encoder, data[train], labels[train], data[test], labels[test],
        options=AdaptOptions(recipe="linear-probe", epochs=15, lr=1e-2),
    )  # fmt: skip
    assert probe.protocol == "linear-probe" and probe.value > probe.baseline + 0.2
    with pytest.raises(HFMError, match="recipe must be one of linear-probe, finetune, lp-ft"):
        AdaptOptions(recipe="lora")


def test_paired_interval_of_pretrained_minus_scratch_on_known_values():
    from hfm.shared.eval.efficiency import EfficiencyCurve, EfficiencyPoint, compare_curves

    seeds = [0, 1, 2, 3, 4]
    scratch = EfficiencyCurve("scratch", "finetune", "accuracy", 0.5)
    pretrained = EfficiencyCurve("pretrained", "finetune", "accuracy", 0.5)
    scratch.points.append(EfficiencyPoint(0.1, 10, [0.50, 0.60, 0.55, 0.70, 0.65], 0.6, 0.5, 0.7, seeds))
    pretrained.points.append(EfficiencyPoint(0.1, 10, [0.51, 0.62, 0.58, 0.74, 0.70], 0.63, 0.5, 0.76, seeds))
    (point,) = compare_curves(pretrained, scratch)
    # differences 0.01..0.05: mean 0.03, sd 0.0158114, t(0.975, 4) = 2.776445 -> half width 0.0196324
    assert point.differences == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05])
    assert point.mean == pytest.approx(0.03)
    assert (point.low, point.high) == pytest.approx((0.03 - 0.0196324, 0.03 + 0.0196324), abs=1e-6)
    # the unpaired intervals overlap widely; the paired one excludes zero
    assert point.low > 0
    scratch.points[0].seeds = [5, 6, 7, 8, 9]
    with pytest.raises(HFMError, match="different seeds"):
        compare_curves(pretrained, scratch)


def test_paired_label_efficiency_runs_both_on_the_same_subsets():
    from hfm.shared.eval.efficiency import paired_label_efficiency

    train_x, train_y = blobs(200, 0)
    test_x, test_y = blobs(100, 1)
    noise_train, noise_test = (np.random.default_rng(s).normal(size=(n, 8)) for s, n in ((5, 200), (6, 100)))
    good, bad, paired = paired_label_efficiency(
        (train_x, noise_train), train_y, (test_x, noise_test), test_y, (linear_probe, linear_probe), fractions=(0.1, 1)
    )
    assert [p.labels for p in good.points] == [p.labels for p in bad.points] == [20, 200]
    assert [len(p.differences) for p in paired] == [5, 5]
    for point, a, b in zip(paired, good.points, bad.points, strict=True):
        assert point.differences == pytest.approx([x - y for x, y in zip(a.values, b.values, strict=True)])
        assert point.low > 0.3  # informative features beat noise features at every fraction, by the interval


def test_a_model_that_holds_no_encoder_is_named_in_one_line():
    from hfm.shared.eval.embeddings import as_encoder

    with pytest.raises(HFMError) as refused:
        as_encoder(create_model("trunk-tiny"))
    assert str(refused.value).startswith("a `trunk-tiny` model (Trunk) is not an encoder and holds none under")
    with pytest.raises(HFMError, match=r"^a Linear is not an encoder"):
        as_encoder(torch.nn.Linear(2, 2))
    mae = create_model("series-mae-tiny", channels=1, patch_len=8, width=32, depth=1, heads=2)
    assert as_encoder(mae) is mae.encoder
