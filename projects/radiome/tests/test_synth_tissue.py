"""FreeSurfer -> tissue mapping, MONAI tissue metrics, the real test subjects and the SynthSeg-style generator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hfm.radiome.metrics import slab_dice, tissue_metrics
from hfm.radiome.readers.subjects import CSF, GM, WM, freesurfer_to_tissue, load_test_subjects
from hfm.radiome.synthetic.synthseg import SynthesisConfig, SynthSegDataset, SynthSegStream, deform, sample_mixture
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import DataUnavailable


def _need(call):
    try:
        return call()
    except DataUnavailable as error:
        pytest.skip(str(error))


def test_freesurfer_mapping() -> None:
    labels = np.array([0, 2, 3, 4, 24, 17, 16, 1035, 2011, 11145, 12174, 251, 507, 72, 10])
    expected = [0, WM, GM, CSF, CSF, GM, WM, GM, GM, GM, GM, WM, 0, CSF, GM]
    assert freesurfer_to_tissue(labels).tolist() == expected
    with pytest.raises(HFMError, match="non-integer"):
        freesurfer_to_tissue(np.array([2.5]))
    with pytest.raises(HFMError, match="must lie in"):
        freesurfer_to_tissue(np.array([-1]))


def test_tissue_metrics_numbers() -> None:
    reference = np.zeros((20, 20, 20), np.uint8)
    reference[2:8, 2:8, 2:8] = CSF
    reference[10:16, 10:16, 10:16] = GM
    reference[2:6, 12:18, 2:6] = WM
    prediction = reference.copy()
    prediction[10:16, 10:16, 10:13] = 0  # half the GM cube missed
    metrics = tissue_metrics(prediction, reference, spacing=(1.0, 1.0, 2.0))
    assert metrics["CSF"]["dice"] == pytest.approx(1.0)
    assert metrics["GM"]["dice"] == pytest.approx(2 * 108 / (108 + 216))
    assert metrics["CSF"]["hd95"] == pytest.approx(0.0)
    assert metrics["GM"]["hd95"] == pytest.approx(6.0)  # 3 missed slices along the 2 mm axis
    slabs = slab_dice(prediction, reference, reference > 0, slabs=2)
    assert slabs.shape == (2,) and slabs.min() < 1.0


def test_real_subjects_have_tissue_references() -> None:
    subjects = _need(load_test_subjects)
    for subject in subjects:
        counts = np.bincount(subject.reference.ravel(), minlength=4)
        assert subject.image.shape == subject.reference.shape
        assert counts[GM] > 5e5 and counts[WM] > 4e5 and counts[CSF] > 1e4, subject.name
        # the reference lies inside the shipped skull strip (voxelmorph: one stray voxel)
        assert np.count_nonzero(subject.reference[~subject.mask]) <= 1
        assert subject.spacing == pytest.approx((1.0, 1.0, 1.0), abs=1e-4)


def test_synthesis_is_reproducible_and_fresh() -> None:
    first = _need(lambda: SynthSegDataset(label_maps=2, seed=3))
    again = SynthSegDataset(label_maps=2, seed=3)
    a, b, c = first[5], again[5], first[6]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])
    assert not torch.equal(a["image"], c["image"])
    assert a["image"].shape == (1, 64, 64, 64) and a["label"].shape == (64, 64, 64)
    assert set(torch.unique(a["label"]).tolist()) <= {0, 1, 2, 3}
    stream = iter(SynthSegStream(first, start=5))
    assert torch.equal(next(stream)["image"], a["image"]) and torch.equal(next(stream)["image"], c["image"])


def test_pooled_synthesis_is_the_2_mm_image_at_4_mm() -> None:
    """pool=2: the same draw as pool=1, image mean-pooled before the normalisation, labels by majority."""
    fine = _need(lambda: SynthSegDataset(label_maps=1, seed=0, config=SynthesisConfig(patch=(32, 32, 32))))
    coarse = SynthSegDataset(label_maps=1, seed=0, config=SynthesisConfig(patch=(32, 32, 32), pool=2))
    a, b = fine[4], coarse[4]
    assert b["image"].shape == (1, 16, 16, 16) and b["label"].shape == (16, 16, 16)
    votes = torch.nn.functional.one_hot(a["label"], 4).permute(3, 0, 1, 2).float()
    majority = torch.nn.functional.avg_pool3d(votes[None], 2)[0].argmax(0)
    assert torch.equal(b["label"], majority)
    pooled = torch.nn.functional.avg_pool3d(a["image"][None], 2)[0]
    # each normalised by its own 99th percentile: proportional, except where a 2 mm voxel was clipped at 1.5
    inside = (b["image"] > 0.05) & (pooled > 0.05)
    ratio = (b["image"][inside] / pooled[inside]).numpy()
    same = np.abs(ratio / np.median(ratio) - 1) < 1e-4
    assert inside.sum() > 1000 and same.mean() > 0.95 and np.median(ratio) > 1


def test_deformation_preserves_labels() -> None:
    rng = np.random.default_rng(0)
    labels = torch.as_tensor(rng.integers(0, 4, (2, 8, 8, 8)).repeat(4, 1).repeat(4, 2).repeat(4, 3))
    still = SynthesisConfig(patch=(16, 16, 16), rotate_deg=0, scale=0, shear=0, elastic_magnitude=(0, 0))
    same = deform(labels.float(), still, rng)
    assert torch.equal(same.long(), labels[:, 8:24, 8:24, 8:24])  # no deformation: the centre crop, exactly
    moved = deform(labels.float(), SynthesisConfig(patch=(16, 16, 16)), rng)
    assert set(torch.unique(moved).tolist()) <= {0.0, 1.0, 2.0, 3.0}  # nearest neighbour: no new values
    assert torch.equal(moved[0] > -1, moved[1] > -1)  # both channels carried by the same field


def test_mixture_statistics_follow_the_draw() -> None:
    rng = np.random.default_rng(1)
    classes = torch.as_tensor(np.repeat(np.arange(3), 20000))
    means, stds = np.array([10.0, 80.0, 150.0]), np.array([2.0, 5.0, 12.0])
    values = sample_mixture(classes, means, stds, rng).numpy()
    for k in range(3):
        assert values[classes.numpy() == k].mean() == pytest.approx(means[k], abs=0.3)
        assert values[classes.numpy() == k].std() == pytest.approx(stds[k], rel=0.03)


def test_label_maps_come_from_the_task_dataset_folder(tmp_path) -> None:
    from hfm.radiome.synthetic.synthseg import label_map_paths

    for i in (2, 1, 3):
        (tmp_path / f"training_seg_{i:02d}.nii.gz").write_bytes(b"")
    assert [p.name for p in label_map_paths(2, tmp_path)] == ["training_seg_01.nii.gz", "training_seg_02.nii.gz"]
    with pytest.raises(HFMError, match=r"asked for 4, .* holds 3"):
        label_map_paths(4, tmp_path)
    with pytest.raises(HFMError, match="empty: no training_seg_"):
        label_map_paths(1, tmp_path / "empty")
