"""Tissue benchmark pieces: whole-head inference on the native grid, writing back in the file's order, intervals."""

from __future__ import annotations

import math

import nibabel as nib
import numpy as np
import pytest
import torch

from hfm.radiome.data.pretraining import PretrainVolumes
from hfm.radiome.experiments.tissue import atropos_available, atropos_segment, pooled_dice_interval, slab_counts
from hfm.radiome.predict import save_prediction, segment_any_grid, segment_subject
from hfm.radiome.readers.subjects import LIA_AFFINE, Subject
from hfm.radiome.readers.volume import from_ras
from hfm.radiome.training import train
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model
from hfm.shared.sample_data import DataUnavailable


def _brain(shape: tuple[int, int, int] = (40, 36, 30), seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A skull-stripped 'brain': WM core (bright), GM shell, CSF centre (dark), noise."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    label = np.zeros(shape, np.uint8)
    label[radius < 0.9] = 2
    label[radius < 0.6] = 3
    label[radius < 0.2] = 1
    image = np.array([0.0, 30.0, 70.0, 110.0])[label] + rng.normal(0, 3, shape)
    image[label == 0] = 0
    return image.astype(np.float32), label, label > 0


def test_segment_subject_returns_the_native_grid() -> None:
    torch.manual_seed(0)
    image, _, mask = _brain()
    model = create_model("radiome-unet-baseline", classes=4, features=(4, 8))
    prediction = segment_subject(model, image, mask, patch=(16, 16, 16))
    assert prediction.shape == image.shape and prediction.dtype == np.uint8
    assert not prediction[~mask].any() and set(np.unique(prediction)) <= {0, 1, 2, 3}


def test_segment_any_grid_comes_back_to_an_anisotropic_grid() -> None:
    torch.manual_seed(0)
    image, label, mask = _brain((20, 16, 12))
    affine = np.diag([2.0, 2.0, 3.0, 1.0])
    subject = Subject("aniso", image, label, affine, affine, "toy")
    model = create_model("radiome-unet-baseline", classes=4, features=(4, 8))
    prediction = segment_any_grid(model, subject, patch=(16, 16, 16))
    assert prediction.shape == image.shape and not prediction[~mask].any()


def test_save_prediction_keeps_the_file_order(tmp_path) -> None:
    _, label, _ = _brain((8, 10, 12))
    ras_image = nib.as_closest_canonical(nib.Nifti1Image(label, LIA_AFFINE))
    subject = Subject(
        "toy",
        np.asarray(ras_image.dataobj, np.float32),
        np.asarray(ras_image.dataobj),
        ras_image.affine,
        LIA_AFFINE,
        "toy.npz",
    )
    path = save_prediction(subject.reference, subject, tmp_path / "pred.nii.gz")
    written = nib.load(str(path))
    assert np.allclose(written.affine, LIA_AFFINE)
    assert np.array_equal(np.asarray(written.dataobj), label)  # back in the file's own voxel order
    assert np.array_equal(from_ras(subject.reference, subject.affine, LIA_AFFINE), label)


def test_pooled_dice_interval() -> None:
    _, label, mask = _brain()
    worse = label.copy()
    worse[label == 2] = 3  # GM called WM everywhere
    good = np.asarray(slab_counts(label, label, mask, 4))[None]
    bad = np.asarray(slab_counts(worse, label, mask, 4))[None]
    value, base, low, high = pooled_dice_interval({"s": good}, {"s": good})
    assert value == base == 1.0 and low == high == 0.0
    value, base, low, high = pooled_dice_interval({"s": good}, {"s": bad})
    assert value == 1.0 and base < 0.7 and 0 < low <= high
    assert math.isclose(value - base, (low + high) / 2, abs_tol=0.15)


def test_pooled_dice_interval_draws_seeds() -> None:
    """One bad training seed of three: pooling every seed in every resample (slabs alone drawn) would put the whole
    interval below zero; drawing seeds too leaves resamples without the bad seed, so the interval reaches zero."""
    _, label, mask = _brain()
    worse = label.copy()
    worse[label == 2] = 3
    good = np.asarray(slab_counts(label, label, mask, 4))
    bad = np.asarray(slab_counts(worse, label, mask, 4))
    hfm = {"s": np.stack([good, good, bad])}
    baseline = {"s": np.stack([good, good, good])}
    value, base, low, high = pooled_dice_interval(hfm, baseline)
    assert base == 1.0 and value < 1.0
    assert low < value - base < 0.0 and high == 0.0
    # a deterministic baseline (one seed) against three seeds: drawn on their own, same point values
    value1, base1, low1, high1 = pooled_dice_interval(hfm, {"s": good[None]})
    assert (value1, base1) == (value, base) and low1 < 0.0 and high1 == 0.0
    with pytest.raises(ValueError, match="different numbers of seeds"):
        pooled_dice_interval({"s": hfm["s"], "t": good[None]}, baseline)


def test_atropos_orders_classes_by_intensity() -> None:
    if atropos_available() is not None:
        pytest.skip(atropos_available())
    image, label, mask = _brain((30, 30, 30))
    prediction = atropos_segment(image, mask)
    agreement = (prediction == label)[mask].mean()
    assert agreement > 0.9


def test_atropos_survives_a_bright_tail() -> None:
    """0.5% of the mask far brighter than white matter (vessels, fat a skull strip left) took Atropos' k-means
    starting classes and merged grey and white matter before intensities were clipped."""
    if atropos_available() is not None:
        pytest.skip(atropos_available())
    image, label, mask = _brain((30, 30, 30))
    rng = np.random.default_rng(1)
    inside = np.flatnonzero(mask)
    bright = rng.choice(inside, inside.size // 200, replace=False)
    image.flat[bright] = rng.uniform(250, 400, bright.size)
    prediction = atropos_segment(image, mask)
    keep = mask.copy()
    keep.flat[bright] = False
    for tissue in (1, 2, 3):
        hit = (prediction == tissue) & (label == tissue)
        assert 2 * hit.sum() / ((prediction == tissue).sum() + (label == tissue).sum()) > 0.8
    assert (prediction == label)[keep].mean() > 0.9


def test_atropos_leaves_no_temporary_files(tmp_path, monkeypatch) -> None:
    """ANTsPy writes Atropos' posteriors to mktemp names in the temp folder and never deletes them; ours must."""
    if atropos_available() is not None:
        pytest.skip(atropos_available())
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # every temporary name ANTsPy makes lands here
    image, label, mask = _brain((20, 20, 20))
    prediction = atropos_segment(image, mask)
    assert (prediction == label)[mask].mean() > 0.8  # it did run
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert tempfile.tempdir == str(tmp_path)  # restored


def test_private_tempdir_is_removed_after_an_error(tmp_path, monkeypatch) -> None:
    import tempfile

    from hfm.radiome.experiments.tissue import private_tempdir

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(RuntimeError, match="boom"), private_tempdir() as folder:
        assert folder.parent == tmp_path and tempfile.gettempdir() == str(folder)
        (folder / "antsrXprob01.nii.gz").write_bytes(b"x")
        raise RuntimeError("boom")
    assert not folder.exists() and list(tmp_path.iterdir()) == [] and tempfile.tempdir == str(tmp_path)


def test_synthseg_task_runs_in_the_trainer(tmp_path) -> None:
    options = {
        "label_maps": 1,
        "seed": 0,
        "patch": [32, 32, 32],
        "model": "radiome-unetr-tiny",
        "model_args": {"width": 48, "depth": 2, "heads": 3, "features": 4},
    }
    try:
        model, summary = train("radiome-synthseg", options, tmp_path / "run", steps=2, batch_size=1)
    except DataUnavailable as error:
        pytest.skip(str(error))
    assert summary["steps"] == 2
    out = model(torch.zeros(1, 1, 32, 32, 32))
    assert out.shape == (1, 4, 32, 32, 32) and torch.isfinite(out).all()
    coarse = train("radiome-synthseg", options | {"pool": 2}, tmp_path / "coarse", steps=1, batch_size=1)[0]
    assert coarse(torch.zeros(1, 1, 16, 16, 16)).shape == (1, 4, 16, 16, 16)


def test_pretrain_volumes_are_deterministic_crops() -> None:
    volume = np.random.default_rng(0).random((20, 24, 28)).astype(np.float32)
    data = PretrainVolumes({"v": volume}, None, (16, 16, 16), seed=2, length=10)
    a, b = data[3]["image"], PretrainVolumes({"v": volume}, None, (16, 16, 16), seed=2)[3]["image"]
    assert a.shape == (1, 16, 16, 16) and torch.equal(a, b)


def test_tissue_figures_from_rows() -> None:
    from hfm.radiome.benchmarks import tissue_figures
    from hfm.radiome.experiments.tissue import HFM, HFM_SCRATCH, KMEANS, UNET, Row, TissueConfig, TissueResult

    config = TissueConfig(steps=10, seeds=(0, 1), efficiency_maps=(2, 20), efficiency_steps=5, slabs=4)
    rng = np.random.default_rng(0)

    def row(method: str, subject: str, seed: int, maps: int, steps: int, quality: float) -> Row:
        tp = rng.integers(800, 1000, (4, 3)) * quality
        counts = np.stack([tp, 1000 - tp, 1000 - tp], -1).astype(int).tolist()
        dice = {n: quality for n in ("CSF", "GM", "WM")}
        return Row(method, subject, seed, maps, dice, {n: 3.0 / quality for n in dice}, counts, steps=steps)

    rows = []
    for subject in ("voxelmorph", "niivue"):
        for seed in (0, 1):
            rows += [row(HFM, subject, seed, 20, 10, 0.9), row(HFM_SCRATCH, subject, seed, 20, 10, 0.8)]
            rows.append(row(UNET, subject, seed, 20, 10, 0.7))
        rows.append(row(KMEANS, subject, 0, 0, 0, 0.6))
        for maps in (2, 20):
            rows += [row(HFM, subject, 0, maps, 5, 0.85), row(HFM_SCRATCH, subject, 0, maps, 5, 0.5)]
    speed = {HFM: [10.0, 11.0], UNET: [20.0, 21.0]}
    result = TissueResult(rows, config, {}, speed, {HFM: 0.7, KMEANS: 0.9})
    figures = {f.name: f for f in tissue_figures(result)}
    dice = figures["mean CSF/GM/WM Dice on 2 real FreeSurfer subject(s): hfm vs strongest baseline"]
    assert dice.baseline_name == HFM_SCRATCH and dice.outcome == "win" and dice.n_test == 8
    assert set(dice.others) == {UNET, KMEANS} and dice.headline
    hd = next(f for f in figures.values() if f.metric == "HD95")
    assert hd.baseline_name == HFM_SCRATCH and hd.value < hd.baseline and hd.n_test == 4
    assert figures["label efficiency: Dice with 2 label map(s), hfm pretrained vs scratch"].outcome == "win"
    assert "label efficiency: hfm pretrained with 2 label maps vs scratch with 20" in figures
    speed = next(f for f in figures.values() if f.metric == "seconds")
    assert speed.value == 10.5 and speed.baseline == 20.5 and speed.outcome == "win"
    itk = next(f for f in figures.values() if f.reference == "consistency check")
    assert itk.outcome == "consistency check" and itk.value == 0.7


def test_refinement_recovers_1mm_boundaries_from_a_blurred_prior() -> None:
    """A coarse, hesitant prior (the true classes blurred by 3 voxels, half uniform) plus sharp intensities: the
    refinement finds the boundaries the prior's arg-max misses, and tells fluid outside the brain (background) from
    ventricular CSF by the prior alone, as both share one intensity model."""
    from scipy.ndimage import gaussian_filter

    from hfm.radiome.predict import refine_with_intensities

    rng = np.random.default_rng(0)
    truth = np.zeros((48, 20, 20), np.int64)  # slabs along x: fluid (background), CSF, GM, WM, GM
    for low, high, tissue in ((0, 8, 0), (8, 14, 1), (14, 25, 2), (25, 40, 3), (40, 48, 2)):
        truth[low:high] = tissue
    image = np.array([0.2, 0.2, 0.5, 0.8])[truth] + rng.normal(0, 0.04, truth.shape)
    onehot = np.stack([(truth == k).astype(float) for k in range(4)])
    prior = 0.5 * np.stack([gaussian_filter(p, (3, 0, 0)) for p in onehot]) + 0.5 / 4
    prior = np.roll(prior, 2, axis=1)  # and misplaced by 2 voxels along x
    mask = np.ones(truth.shape, bool)
    network = prior.argmax(0)
    refined = refine_with_intensities(prior, image.astype(np.float32), mask)
    assert math.isclose(np.mean(network == truth), 0.7917, abs_tol=1e-3)  # 2 voxels wrong at each of 5 boundaries
    tissue = truth >= 2
    assert np.mean(refined[tissue] == truth[tissue]) > 0.999 and np.mean(np.isin(refined[~tissue], (0, 1))) > 0.999
    # fluid: only the prior tells background from CSF, so its misplaced boundary stays (x = 8, 9), all else right
    wrong = (refined != truth).mean(axis=(1, 2))
    assert np.array_equal(np.flatnonzero(wrong > 0.5), [8, 9]) and np.delete(wrong, [8, 9]).max() < 0.01
    with pytest.raises(HFMError, match="intensity_model"):
        refine_with_intensities(prior[:3], image, mask)


def test_keep_deep_csf_drops_shallow_fluid() -> None:
    """Fluid near the mask's edge (sulcal) is background, fluid deep inside (ventricles) stays CSF."""
    from hfm.radiome.predict import keep_deep_csf

    grid = np.stack(np.meshgrid(*[np.arange(41) - 20] * 3, indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    mask = radius <= 18  # largest depth 19 voxels (distance to the nearest voxel outside)
    labels = np.where(mask, 3, 0).astype(np.uint8)
    labels[radius <= 4] = 1  # a ventricle at depth >= 15
    labels[mask & (radius >= 16)] = 1  # a fluid rim at depth <= 3
    out = keep_deep_csf(labels, mask, 0.45)
    assert (out[radius <= 4] == 1).all() and (out[mask & (radius >= 16)] == 0).all()
    assert np.array_equal(out[labels != 1], labels[labels != 1])  # only CSF is touched
    assert np.array_equal(keep_deep_csf(labels, mask, 0.0), labels)
    with pytest.raises(HFMError, match="fraction"):
        keep_deep_csf(labels, mask, 1.0)


def _toy_brain() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ball: sulcal fluid rim, GM shell, WM core with a ventricle and a bright deep-grey nucleus (truth GM)."""
    grid = np.stack(np.meshgrid(*[np.arange(41) - 20] * 3, indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    mask = radius <= 18
    truth = np.where(mask, 3, 0)
    truth[mask & (radius > 12)] = 2
    truth[mask & (radius > 16)] = 0  # sulcal fluid: background in the references
    truth[radius <= 4] = 1  # ventricle
    nucleus = (np.abs(grid[0] - 8) <= 2) & (np.abs(grid[1]) <= 2) & (np.abs(grid[2]) <= 2)
    truth[nucleus] = 2
    image = np.array([0.2, 0.2, 0.5, 0.8])[truth] + np.random.default_rng(0).normal(0, 0.03, truth.shape)
    image[nucleus] += 0.16  # deep grey nuclei are brighter than cortex on a T1: k-means calls most of it WM
    return np.where(mask, image, 0).astype(np.float32), mask, truth


def test_fusion_without_prior_is_kmeans_with_the_depth_rule() -> None:
    """Weight 0, or an uninformative prior at any weight, decides exactly as k-means + the deep-CSF rule."""
    from hfm.radiome.baselines import cluster_intensities
    from hfm.radiome.predict import fuse_with_clusters, keep_deep_csf

    image, mask, truth = _toy_brain()
    kmeans = keep_deep_csf(cluster_intensities(image, mask, (1, 2, 3), "kmeans", 0), mask)
    uniform = np.full((4, *mask.shape), 0.25, np.float32)
    assert np.array_equal(fuse_with_clusters(uniform, image, mask, 0.0), kmeans)
    assert np.array_equal(fuse_with_clusters(uniform, image, mask, 1.0), kmeans)
    assert math.isclose(np.mean(kmeans[mask] == truth[mask]), 0.9969, abs_tol=1e-3)
    with pytest.raises(HFMError, match="intensity_model"):
        fuse_with_clusters(uniform[:3], image, mask)


def test_fusion_prior_says_where_intensities_say_which() -> None:
    """A prior that knows the bright nucleus is grey turns more of it grey as its weight grows; a prior wrong by a
    whole class in the white matter moves no voxel whose intensity is clear; fluid is CSF only where deep."""
    from hfm.radiome.predict import fuse_with_clusters

    image, mask, truth = _toy_brain()
    prior = np.stack([(truth == k).astype(np.float32) * 0.9 + 0.025 for k in range(4)])
    grid = np.stack(np.meshgrid(*[np.arange(41) - 20] * 3, indexing="ij"))
    nucleus = (truth == 2) & (np.sqrt((grid**2).sum(0)) <= 12)
    shell = (truth == 3) & (np.random.default_rng(1).random(mask.shape) < 0.2)
    prior[:, shell] = np.array([0.025, 0.025, 0.9, 0.05])[:, None]  # says GM where WM is
    fused = fuse_with_clusters(prior, image, mask, 1.0)
    grey = [np.mean(fuse_with_clusters(prior, image, mask, w)[nucleus] == 2) for w in (0.0, 0.25, 1.0)]
    assert np.allclose(grey, [0.392, 0.424, 0.560], atol=1e-3)  # the voxels of ambiguous intensity follow the prior
    assert np.mean(fused[shell] == 3) > 0.99
    fluid = mask & (truth <= 1)
    assert np.array_equal(fused[fluid] == 1, truth[fluid] == 1)  # the rim is dropped, the ventricle kept


def test_fusion_fluid_split_by_the_network() -> None:
    """fluid="network": fluid is CSF where the network's CSF beats its background and the voxel is deep enough;
    a network that also calls the shallow sulcal rim CSF is overruled by the depth, one that misses the ventricle
    loses it (the depth rule would have kept it)."""
    from hfm.radiome.predict import fuse_with_clusters

    image, mask, truth = _toy_brain()
    grid = np.stack(np.meshgrid(*[np.arange(41) - 20] * 3, indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    fluid = mask & (truth <= 1)
    knows = np.stack([(truth == k).astype(np.float32) * 0.9 + 0.025 for k in range(4)])
    spills = knows.copy()
    spills[:, mask & (radius > 16)] = np.array([0.3, 0.6, 0.05, 0.05])[:, None]  # calls the rim CSF
    misses = knows.copy()
    misses[:, radius <= 4] = np.array([0.6, 0.3, 0.05, 0.05])[:, None]  # calls the ventricle background
    for prior in (knows, spills):
        fused = fuse_with_clusters(prior, image, mask, 0.0, fluid="network")
        assert np.array_equal(fused[fluid] == 1, truth[fluid] == 1)
    rim = mask & (radius > 16)
    assert (fuse_with_clusters(spills, image, mask, 0.0, fluid="network", min_depth=0.0)[rim] == 1).all()
    lost = fuse_with_clusters(misses, image, mask, 0.0, fluid="network")
    assert (lost[radius <= 4] == 0).all()
    assert (fuse_with_clusters(misses, image, mask, 0.0, fluid="depth")[radius <= 4] == 1).all()
    tissue = mask & ~fluid  # GM and WM are decided as before, whatever the fluid rule
    assert np.array_equal(lost[tissue], fuse_with_clusters(misses, image, mask, 0.0)[tissue])
    with pytest.raises(HFMError, match="fluid"):
        fuse_with_clusters(knows, image, mask, fluid="atlas")


def test_segment_subject_at_4_mm_returns_the_native_grid() -> None:
    torch.manual_seed(0)
    image, _, mask = _brain((36, 40, 30))
    model = create_model("radiome-unet-baseline", classes=4, features=(4, 8))
    prediction = segment_subject(model, image, mask, patch=(16, 16, 16), factor=4, fluid="network")
    assert prediction.shape == image.shape and prediction.dtype == np.uint8
    assert not prediction[~mask].any() and set(np.unique(prediction)) <= {0, 1, 2, 3}


def test_label_efficiency_grid_runs_five_seeds_at_every_size() -> None:
    from hfm.radiome.experiments.tissue import TissueConfig, efficiency_grid

    grid = efficiency_grid(TissueConfig())
    assert grid == [(maps, seed) for maps in (1, 2, 5, 10, 20) for seed in range(5)]
    # a run the main comparison makes (20 maps, its seeds, its steps) is not run twice
    same_steps = TissueConfig(efficiency_steps=80, seeds=(0, 1, 2))
    assert [g for g in efficiency_grid(same_steps) if g[0] == 20] == [(20, 3), (20, 4)]
    assert efficiency_grid(TissueConfig(efficiency_maps=())) == []


def test_learned_runs_give_the_same_rows_and_model_in_any_process(tmp_path) -> None:
    """Every learned run goes through spawned workers; each is seeded and at one thread, so the rows and the model
    kept for the speed figure must not depend on it."""
    from hfm.radiome.experiments.tissue import HFM_SCRATCH, TissueConfig, learned_run
    from hfm.shared.parallel import parallel_map

    try:
        from hfm.radiome.readers.subjects import load_test_subjects

        load_test_subjects(("niivue",))
    except (DataUnavailable, FileNotFoundError) as missing:
        pytest.skip(f"niivue subject not available: {missing}")
    config = TissueConfig(subjects=("niivue",), slabs=4)
    jobs = [(config, HFM_SCRATCH, seed, 2, 2, None, str(tmp_path / "here"), False, seed == 0) for seed in (0, 1)]
    here = [learned_run(job) for job in jobs]
    apart = parallel_map(learned_run, [(*job[:6], str(tmp_path / "apart"), *job[7:]) for job in jobs], workers=2)
    for (_, rows_a, alone_a, _), (_, rows_b, alone_b, _) in zip(here, apart, strict=True):
        assert [r.counts for r in rows_a] == [r.counts for r in rows_b]
        assert [r.dice for r in rows_a] == [r.dice for r in rows_b] and alone_a == alone_b
        assert rows_a[0].steps == 2 and rows_a[0].label_maps == 2 and math.isnan(rows_a[0].hd95["CSF"])
    assert here[0][1][0].counts != here[1][1][0].counts  # two seeds, two networks
    kept_here, kept_apart = here[0][0], apart[0][0]
    assert here[1][0] is None and apart[1][0] is None  # only the model asked for comes back
    for (name, a), (_, b) in zip(kept_here.state_dict().items(), kept_apart.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
