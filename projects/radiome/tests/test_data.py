from pathlib import Path

import numpy as np
import torch

from hfm.radiome.baselines import cluster_intensities
from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.radiome.data.patches import PatchDataset, VolumeCache, partial_labels
from hfm.radiome.metrics import dice_per_class
from hfm.radiome.synthetic.phantoms import make_phantom
from hfm.radiome.tasks import segmentation_loss
from hfm.shared.curate_driver import DatasetDescription

DESCRIBE = DatasetDescription("phantoms", "CC0-1.0", ["HFM tests"])


def test_cache_stays_within_its_byte_budget(raw_dataset: Path, tmp_path: Path) -> None:
    curate_nnunet(raw_dataset, tmp_path / "cur", (2.0, 2.0, 2.0), DESCRIBE, show_progress=False)
    one_case = 20 * 22 * 18 * (4 + 8)  # float32 image + int64 label
    cache = VolumeCache(tmp_path / "cur", max_bytes=int(1.5 * one_case))
    for index in (0, 0, 1, 1, 0):
        cache.get(index)
    assert cache.bytes <= cache.max_bytes and cache.reads == 3  # 0, 1, then 0 again after eviction
    roomy = VolumeCache(tmp_path / "cur", max_bytes=10 * one_case)
    for index in (0, 1, 2, 0, 1, 2):
        roomy.get(index)
    assert roomy.reads == 3 and roomy.bytes == 3 * one_case


def test_patches_are_deterministic_per_index(raw_dataset: Path, tmp_path: Path) -> None:
    curate_nnunet(raw_dataset, tmp_path / "cur", (2.0, 2.0, 2.0), DESCRIBE, show_progress=False)
    data = PatchDataset(VolumeCache(tmp_path / "cur"), (16, 16, 16), length=6, seed=3)
    a, b, c = data[4], data[4], data[5]
    assert a["image"].shape == (1, 16, 16, 16) and a["label"].shape == (16, 16, 16)
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["label"], b["label"])
    assert not torch.equal(a["image"], c["image"])


def test_partial_labels_and_ignored_voxels() -> None:
    label = np.ones((4, 4, 10), np.int64)
    partial = partial_labels(label, 0.2)
    assert (partial[..., 4:6] == 1).all() and (partial[..., :4] == -1).all() and (partial[..., 6:] == -1).all()
    logits = torch.zeros(1, 3, 4, 4, 10)
    logits[:, 1] = 5.0  # confident class 1 everywhere
    target = torch.as_tensor(partial)[None]
    loss, logs = segmentation_loss(logits, target)
    assert logs["ce"] < 0.02  # the unlabelled voxels do not count
    wrong = torch.where(target == 1, torch.tensor(2), target)
    assert segmentation_loss(logits, wrong)[0] > loss + 1.0


def test_intensity_clustering_recovers_phantom_classes() -> None:
    image, label = make_phantom((32, 32, 32), seed=4)
    for method in ("kmeans", "otsu"):
        clusters = cluster_intensities(image, np.ones(image.shape, bool), (0, 1, 2), method)
        dice = dice_per_class(clusters, label, (0, 1, 2))
        assert min(dice.values()) > 0.8, (method, dice)
