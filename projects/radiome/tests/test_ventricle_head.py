"""The ventricle head (twelfth pass, docs/radiome-experiments.md): one more output channel, its loss, its fluid split,
and the guarantee that the four tissue channels alone feed the 1 mm fusion."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt
from torch import nn

from hfm.radiome.experiments.tissue import HFM, HFM_SCRATCH, UNET, TissueConfig, learned_options, segmenting
from hfm.radiome.predict import SPLIT_DEPTH, SPLIT_LOGIT, VENTRICLE_DEPTH, fuse_with_clusters, subject_posteriors
from hfm.radiome.synthetic.synthseg import ventricle_pos_weight
from hfm.radiome.tasks import VENTRICLE_HEAD_WEIGHT, SynthSegTask, segmentation_loss, ventricle_loss
from hfm.radiome.training import train
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import DataUnavailable

TINY_UNETR = {"width": 48, "depth": 2, "heads": 3, "features": 4}


def test_ventricle_loss_is_a_weighted_mean_of_the_binary_log_loss() -> None:
    logit = torch.tensor([[[[2.0, -1.0], [0.5, 7.0]]]])
    label = torch.tensor([[[[1, 0], [1, -1]]]])  # CSF, background, CSF, unlabelled
    expected = (3 * math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0)) + 3 * math.log1p(math.exp(-0.5))) / 7
    assert math.isclose(float(ventricle_loss(logit, label, 3.0)), expected, rel_tol=1e-6)
    assert math.isclose(expected, 0.302325, abs_tol=1e-6)
    # at logit 0 every voxel costs log 2, whatever the weights
    assert math.isclose(float(ventricle_loss(torch.zeros_like(logit), label, 68.7)), math.log(2), rel_tol=1e-6)
    assert VENTRICLE_HEAD_WEIGHT == 1.0


def test_ventricle_pos_weight_is_background_over_csf_in_the_head() -> None:
    labels = np.array([0, 0, 2, 2, 2, 2, 2, 2, 4, 4, 3, 3])  # FreeSurfer labels; 0 = outside the head
    tissue = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3])
    assert ventricle_pos_weight([(labels, tissue)]) == 3.0  # 6 background, 2 CSF voxels in the head
    assert ventricle_pos_weight([(labels, tissue), (labels[:10], tissue[:10])]) == 12 / 4
    with pytest.raises(HFMError, match="no CSF"):
        ventricle_pos_weight([(labels[:8], tissue[:8])])


class _Fixed(nn.Module):
    """Returns the logits it was given, whatever the image (the loss is then a known function of them)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.logits


def test_two_head_loss_is_the_present_loss_plus_the_head_term() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 5, 4, 4, 4, generator=generator)
    label = torch.randint(-1, 4, (1, 4, 4, 4), generator=generator)
    batch = {"image": torch.zeros(1, 1, 4, 4, 4), "label": label}
    task = SynthSegTask({"label_maps": 2, "ventricle_head": True})
    task.pos_weight = 5.0
    loss, info = task.loss(_Fixed(logits), batch)
    present, _ = segmentation_loss(logits[:, :4], label)
    head = ventricle_loss(logits[:, 4], label, 5.0)
    assert math.isclose(float(loss), float(present + head), rel_tol=1e-6)
    assert math.isclose(info["ventricle_bce"], float(head), rel_tol=1e-6)
    # the tissue part does not see the head: moving channel 4 moves the head term only
    moved = logits.clone()
    moved[:, 4] += 3.0
    assert math.isclose(float(task.loss(_Fixed(moved), batch)[1]["ce"]), info["ce"], rel_tol=1e-7)
    without = SynthSegTask({"label_maps": 2})
    assert math.isclose(float(without.loss(_Fixed(logits[:, :4]), batch)[0]), float(present), rel_tol=1e-7)


def test_every_learned_model_gets_one_more_channel() -> None:
    config = TissueConfig(model_args=TINY_UNETR)
    for method in (HFM, HFM_SCRATCH, UNET):
        options = learned_options(config, method, 0, 2, None)
        assert options["ventricle_head"] is True
        model = SynthSegTask(options).build_model()
        assert model(torch.zeros(1, 1, 32, 32, 32)).shape == (1, 5, 32, 32, 32)
    assert segmenting(config)["ventricle_head"] is True and segmenting(config)["fluid"] == "depth-or-head-connected"


def _fluid_brain() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A ball with a WM core, a GM shell, a sulcal rim, a deep ventricle and a fluid shell at middling depth."""
    grid = np.stack(np.meshgrid(*[np.arange(41) - 20] * 3, indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    mask = radius <= 18
    depth = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1, 1:-1]
    frac = depth / depth.max()
    truth = np.where(mask, 3, 0)
    truth[mask & (radius > 14)] = 2
    truth[mask & (radius > 16.5)] = 0  # sulcal rim
    truth[radius <= 4] = 1  # deep ventricle
    band = mask & (frac > SPLIT_DEPTH) & (frac <= VENTRICLE_DEPTH)
    truth[band] = 1  # fluid at middling depth: ventricle where x > 0, sulcal (background) where x <= 0
    truth[band & (grid[0] <= 0)] = 0
    image = np.array([0.2, 0.2, 0.5, 0.8])[truth] + np.random.default_rng(0).normal(0, 0.03, truth.shape)
    return np.where(mask, image, 0).astype(np.float32), mask, truth, grid


def test_depth_or_head_splits_the_middling_fluid_by_the_head() -> None:
    image, mask, truth, grid = _fluid_brain()
    prior = np.full((4, *mask.shape), 0.25, np.float32)
    head = np.where(grid[0] > 0, SPLIT_LOGIT + 0.5, SPLIT_LOGIT - 0.5).astype(np.float32)
    fused = fuse_with_clusters(prior, image, mask, 0.0, fluid="depth-or-head", ventricle_logit=head)
    fluid = mask & (truth <= 1)
    assert int(fluid.sum()) == 8673 and int((truth == 1).sum()) == 1619
    assert np.array_equal(fused[fluid] == 1, truth[fluid] == 1)  # deep kept, middling by the head, rim dropped
    depth_only = fuse_with_clusters(prior, image, mask, 0.0)
    assert int(((depth_only == 1) & (truth == 1)).sum()) == 257  # depth alone keeps only the deep ventricle
    assert np.array_equal(fused[~fluid], depth_only[~fluid])  # GM and WM are the present fusion's
    everywhere = np.full(mask.shape, 10.0, np.float32)  # a head sure everywhere: middling fluid CSF, the rim not
    sure = fuse_with_clusters(prior, image, mask, 0.0, fluid="depth-or-head", ventricle_logit=everywhere)
    rim = mask & (np.sqrt((grid**2).sum(0)) > 16.5)
    assert (sure[fluid & ~rim] == 1).all() and (sure[rim] == 0).all()
    with pytest.raises(HFMError, match="ventricle_logit"):
        fuse_with_clusters(prior, image, mask, fluid="depth-or-head")
    with pytest.raises(HFMError, match="ventricle_logit"):
        fuse_with_clusters(prior, image, mask, fluid="depth", ventricle_logit=head)


def test_only_the_tissue_channels_feed_the_fusion() -> None:
    """A two-head model's posteriors are the softmax of its first four channels, as a one-head model with those
    channels gives; its fifth comes back at 1 mm as a logit (a constant logit stays that constant)."""
    image, mask, _, _ = _fluid_brain()
    torch.manual_seed(0)
    four = nn.Conv3d(1, 4, 3, padding=1)
    five = nn.Conv3d(1, 5, 3, padding=1)
    with torch.no_grad():
        five.weight[:4], five.bias[:4] = four.weight, four.bias
        five.weight[4], five.bias[4] = 0.0, 1.5
    one = subject_posteriors(four, image, mask, (16, 16, 16))
    two = subject_posteriors(five, image, mask, (16, 16, 16), ventricle_head=True)
    assert one.ventricle_logit is None and two.probabilities.shape == one.probabilities.shape
    assert np.allclose(two.probabilities, one.probabilities, atol=1e-6)
    assert np.allclose(two.probabilities.sum(0), 1.0, atol=1e-5)
    assert np.allclose(two.ventricle_logit, 1.5, atol=1e-4)
    assert np.array_equal(two.fused("depth"), one.fused("depth"))
    # logit 1.5 < SPLIT_LOGIT: the head finds nothing more than depth
    assert np.array_equal(two.fused("depth-or-head"), one.fused("depth"))


def test_two_head_synthseg_task_runs_in_the_trainer(tmp_path) -> None:
    options = {"label_maps": 10, "seed": 0, "patch": [32, 32, 32], "model_args": TINY_UNETR, "ventricle_head": True}
    try:
        model, summary = train("radiome-synthseg", options, tmp_path / "run", steps=2, batch_size=1)
    except DataUnavailable as error:
        pytest.skip(str(error))
    assert summary["steps"] == 2
    out = model(torch.zeros(1, 1, 32, 32, 32))
    assert out.shape == (1, 5, 32, 32, 32) and torch.isfinite(out).all()
    task = SynthSegTask(options)
    task.train_dataset()
    assert math.isclose(task.pos_weight, 68.718, abs_tol=1e-3)  # f_bg / f_CSF over the head voxels of maps 1-10
