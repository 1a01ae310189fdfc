"""The dev protocol of the label-efficiency choices and the layer-wise learning-rate decay of the CNN recipe."""

import numpy as np
import pytest

from hfm.plankton.experiments.crossval import splits
from hfm.plankton.experiments.dev_splits import DevSplit, compare, dev_splits, stratified_subset
from hfm.plankton.models.cnn import start_classifier
from hfm.plankton.synthetic import discs_and_bars


def test_dev_splits_stay_inside_each_outer_training_fold_and_are_seeded():
    labels = np.repeat(["a", "b", "c", "d"], [100, 60, 30, 10])
    folds = splits(labels, repeats=1, folds=5, seed=0)
    dev = dev_splits(labels, folds, fraction=0.1, inner=2)
    assert len(dev) == 10 and [(s.outer, s.inner) for s in dev[:3]] == [(0, 0), (0, 1), (1, 0)]
    for split in dev:
        train, test = folds[split.outer]
        everything = np.concatenate([split.labelled, split.pool, split.test])
        assert np.setdiff1d(everything, train).size == 0 and not np.intersect1d(everything, test).size
        assert len(split.labelled) + len(split.pool) == 128 and len(split.test) == 32
        # 10 % of each class of the inner training part (64, 38, 19, 6 or 7), at least two: 6 + 4 + 2 + 2
        assert len(split.labelled) == 14
    again = dev_splits(labels, folds, fraction=0.1, inner=2)
    assert all(
        np.array_equal(a.labelled, b.labelled) and np.array_equal(a.test, b.test)
        for a, b in zip(dev, again, strict=True)
    )
    with pytest.raises(ValueError, match="outer test fold"):
        DevSplit(0, 0, np.array([1]), np.array([2]), np.array([3])).check(np.array([3, 9]))
    with pytest.raises(ValueError, match="disjoint"):
        DevSplit(0, 0, np.array([1]), np.array([1]), np.array([3])).check(np.array([9]))


def test_stratified_subset_and_the_corrected_comparison():
    labels = np.repeat(["a", "b"], [50, 5])
    subset = stratified_subset(np.arange(55), labels, 0.1, seed=0)
    assert (labels[subset] == "a").sum() == 5 and (labels[subset] == "b").sum() == 2
    assert stratified_subset(np.arange(55), labels, 1.0, seed=0).tolist() == list(range(55))
    dev = [DevSplit(0, i, np.arange(10), np.arange(10, 40), np.arange(40, 50)) for i in range(4)]
    result = compare([0.6, 0.7, 0.65, 0.75], [0.6, 0.6, 0.6, 0.6], dev)
    # mean +0.075, s = 0.06455; se = sqrt((1/4 + 10/40) s^2) = 0.04564; t(3) 97.5 % = 3.182
    assert result.estimate == pytest.approx(0.075)
    assert result.high - result.estimate == pytest.approx(3.1824 * 0.045644, rel=1e-3)


def test_layer_decay_gives_the_stem_the_smallest_rate_and_one_leaves_the_recipe_alone():
    canvases, labels = discs_and_bars(24, size=32, seed=0)
    plain = start_classifier(canvases, labels, steps=40, width=4, seed=0)
    assert len(plain.optimiser.param_groups) == 1
    decayed = start_classifier(canvases, labels, steps=40, width=4, seed=0, layer_decay=0.5)
    peaks = [group["max_lr"] for group in decayed.optimiser.param_groups]
    assert len(peaks) == 8  # seven blocks of the body and the head
    assert peaks[-1] == pytest.approx(2e-3) and peaks[0] == pytest.approx(2e-3 * 0.5**7)
    assert peaks[5] == pytest.approx(2e-3 * 0.25)
    with pytest.raises(ValueError, match="layer_decay"):
        start_classifier(canvases, labels, steps=40, width=4, seed=0, layer_decay=0.0)
