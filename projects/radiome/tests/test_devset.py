"""The dev evaluation: held-out maps as T1-like images, scoring, the paired interval over (seed, map) units."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hfm.radiome.experiments.devset import (
    DevCase,
    DevConfig,
    DevRow,
    dev_cases,
    dev_interval,
    kmeans_deep,
    load_rows,
    report,
    run_dev,
    score,
    synthetic_case,
)
from hfm.radiome.experiments.tissue import BENCHMARK_PATH, KMEANS_DEEP, TISSUE_PATHS, TissueConfig, tissue_path
from hfm.radiome.predict import segment_subject_variants, subject_posteriors
from hfm.radiome.readers.subjects import CSF, GM, WM
from hfm.shared.models.registry import create_model
from hfm.shared.sample_data import DataUnavailable


@pytest.fixture(scope="module")
def held_out() -> DevCase:
    try:
        return synthetic_case(20, seed=0)
    except DataUnavailable as error:
        pytest.skip(str(error))


def test_held_out_map_is_a_reproducible_t1_like_image(held_out: DevCase) -> None:
    again = synthetic_case(20, seed=0)
    assert np.array_equal(again.image, held_out.image)
    assert not np.array_equal(synthetic_case(20, seed=1).image[::4, ::4, ::4], held_out.image[::4, ::4, ::4])
    # T1 contrast: white matter brighter than grey, grey brighter than the ventricles
    means = {c: float(held_out.image[held_out.reference == c].mean()) for c in (CSF, GM, WM)}
    assert means[WM] > means[GM] + 20 > means[CSF] + 40
    # FreeSurfer's convention: only the ventricles are CSF; the fluid around the brain is in the mask, background
    sulcal = held_out.labels == 24
    assert sulcal.sum() > 100_000 and held_out.mask[sulcal].all() and (held_out.reference[sulcal] == 0).all()
    assert (held_out.image[~held_out.mask] == 0).all()


def test_scores_of_the_reference_and_of_the_baseline(held_out: DevCase) -> None:
    perfect = score(held_out.reference, held_out, "reference", -1)
    assert perfect.mean == 1.0 and perfect.regions["ventricles"] == 1.0 and perfect.regions["sulcal fluid"] == 1.0
    baseline = score(kmeans_deep(held_out), held_out, KMEANS_DEEP, -1)
    # k-means places GM/WM well on a T1-like image; the depth rule finds part of the ventricles only
    assert baseline.dice["GM"] > 0.8 and baseline.dice["WM"] > 0.85
    assert 0.2 < baseline.dice["CSF"] < 0.8 and 0.7 < baseline.mean < 0.95


def test_posteriors_fuse_as_segment_subject_does(held_out: DevCase) -> None:
    torch.manual_seed(0)
    model = create_model("radiome-unet-baseline", classes=4, features=(4, 8))
    how = {"patch": [48] * 3, "factor": 4}
    posteriors = subject_posteriors(model, held_out.image, held_out.mask, how["patch"], factor=how["factor"])
    variants = segment_subject_variants(model, held_out.image, held_out.mask, fluid="network", **how)
    assert np.array_equal(posteriors.fused("network"), variants["refined"])
    assert posteriors.probabilities.shape[1:] == held_out.image[posteriors.box].shape


def test_dev_interval_pairs_seed_map_units() -> None:
    def row(method: str, seed: int, case: str, mean: float) -> DevRow:
        return DevRow(method, seed, case, {"CSF": mean, "GM": mean, "WM": mean}, mean)

    rows = [row(KMEANS_DEEP, -1, f"map{m}", 0.5) for m in (17, 18)] + [row(KMEANS_DEEP, -1, "mni152", 0.9)]
    rows += [row("hfm 4mm", s, f"map{m}", 0.5 + 0.01 * (s + 1)) for s in (0, 1) for m in (17, 18)]
    rows += [row("hfm 4mm", 0, "mni152", 0.1)]  # MNI152 is scored apart, never a unit of the interval
    a, b, diff, low, high, n = dev_interval(rows, "hfm 4mm", KMEANS_DEEP)
    assert n == 4 and a == pytest.approx(0.515) and b == pytest.approx(0.5) and diff == pytest.approx(0.015)
    assert 0.01 - 1e-9 <= low <= diff <= high <= 0.02 + 1e-9
    table = report(rows)
    assert f"| hfm 4mm vs {KMEANS_DEEP} (mean) | 0.5150 | 0.5000 | +0.0150 |" in table
    assert "| hfm 4mm | 2 | 0.515 | 0.515 | 0.515 | 0.515 |" in table and table.count("| 0.100 |") == 1


def test_dev_maps_never_overlap_training_and_paths_differ() -> None:
    with pytest.raises(ValueError, match="overlap"):
        dev_cases(DevConfig(maps=(16, 17), train_maps=16))
    two, four = tissue_path("2mm"), tissue_path("4mm")
    assert (two.pool, two.fluid, two.steps, two.model_args["features"]) == (1, "depth", 80, 8)
    assert (four.pool, four.fluid, four.steps, four.model_args["features"]) == (2, "network", 160, 16)
    with pytest.raises(ValueError, match="choose one of"):
        tissue_path("1mm")


def test_run_dev_trains_scores_and_dedupes(tmp_path) -> None:
    """The whole loop in seconds: one path, one seed, 2 steps, a toy brain as the only case."""
    shape = (40, 44, 36)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    reference = np.select([radius < 0.2, radius < 0.6, radius < 0.9], [CSF, WM, GM], 0).astype(np.uint8)
    image = np.array([0.0, 40.0, 90.0, 140.0])[reference] + np.random.default_rng(0).normal(0, 3, shape)
    mask = reference > 0
    case = DevCase("map20", np.where(mask, image, 0).astype(np.float32), mask, reference, (CSF, GM, WM))
    dev = DevConfig(seeds=(0,), steps=2, pretrain_steps=2, mni152=False)
    try:
        rows = run_dev(tmp_path, ["4mm"], dev, log=lambda _: None, cases=[case])
    except DataUnavailable as error:
        pytest.skip(str(error))
    methods = [r.method for r in rows]
    assert methods == [KMEANS_DEEP, "hfm 4mm", "hfm 4mm, fluid=depth", "hfm 4mm, network alone"]
    assert rows[0].mean > 0.9  # k-means on a three-intensity toy brain (CSF deep inside)
    assert all(0.0 <= r.mean <= 1.0 and r.seed in (-1, 0) for r in rows)
    (tmp_path / "dev_rows.jsonl").write_text((tmp_path / "dev_rows.jsonl").read_text() * 2)
    assert [r.method for r in load_rows(tmp_path)] == methods  # a row computed twice counts once


def test_benchmark_defaults_are_the_adopted_path() -> None:
    default = TissueConfig()
    assert {k: getattr(default, k) for k in TISSUE_PATHS[BENCHMARK_PATH]} == TISSUE_PATHS[BENCHMARK_PATH]
