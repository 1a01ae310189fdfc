"""Training streams a sharded nnU-Net dataset (issue 18): patches are drawn inside the stream from one shard's
cases at a time, and the pretrain and fine-tune commands train from the shards, curated by `hfm radiome curate`
from blocks of the real INIA19 T1 with the atlas' brain mask as label."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hfm.radiome.cli import app
from hfm.radiome.format import DatasetJson, export_case, write_dataset_json
from hfm.radiome.tasks import mae_task, segment_task
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shard_loader import ShardStream


@pytest.fixture(scope="module")
def sharded(tmp_path_factory) -> Path:
    """Five labelled 48 mm blocks and three unlabelled ones at 4 mm, in shards of 2 cases; the plan beside it."""
    try:
        t1 = nib.load(require_data("radiome/niivue/inia19-t1-brain.nii.gz"))
        atlas = nib.load(require_data("radiome/niivue/inia19-NeuroMaps.nii.gz"))
    except DataUnavailable as missing:
        pytest.skip(str(missing))
    root = tmp_path_factory.mktemp("radiome-stream")
    brain = (np.asarray(atlas.dataobj) > 0).astype(np.uint8)
    for index, x in enumerate(range(0, 72, 10)):  # 0.5 mm voxels: blocks of 96 overlapping along x
        block = (slice(x, x + 96), slice(50, 146), slice(16, 112))
        label = brain[block] if index < 5 else None
        export_case(root / "raw", f"b{index}", [np.asarray(t1.dataobj[block])], t1.slicer[block].affine, label)
    info = DatasetJson(channel_names={"0": "T1"}, labels={"background": 0, "brain": 1}, numTraining=5)
    write_dataset_json(root / "raw", info)
    plan = ["fingerprint", str(root / "raw"), "--out", str(root), "--spacing", "4", "--max-patch", "16"]
    assert CliRunner().invoke(app, plan, catch_exceptions=False).exit_code == 0  # plan.json beside the dataset
    args = ["curate", str(root / "raw"), "--out", str(root / "data"), "--spacing", "4", "--shard-size", "2", "-q"]
    args += ["--license", "BSD-2-Clause", "--creator", "HFM tests"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return root / "data"


def test_patches_are_drawn_inside_the_stream_one_shard_at_a_time(sharded):
    options = {"dataset": str(sharded), "patch_size": [8, 8, 8], "samples_per_epoch": 10}
    stream = mae_task(options).train_dataset()
    assert isinstance(stream, ShardStream) and len(stream.shards) == 4
    assert len(stream) == 8 * 2  # every case (split null), ceil(10 / 8) = 2 patches each
    patches = [item["image"] for item in stream]
    assert len(patches) == 16 and all(p.shape == (1, 8, 8, 8) for p in patches)
    assert not torch.equal(patches[0], patches[1])  # two different draws from the same case
    again = [item["image"] for item in mae_task(options).train_dataset()]
    assert all(torch.equal(a, b) for a, b in zip(patches, again, strict=True))  # seeded: the same draws

    labelled = segment_task({**options, "label_fraction": 0.5}).train_dataset()
    items = list(labelled)
    assert len(items) == len(labelled) == 5 * 2  # the train split: the labelled blocks only
    labels = torch.stack([item["label"] for item in items])
    assert set(labels.unique().tolist()) <= {-1, 0, 1} and (labels == -1).any() and (labels == 1).any()


def test_pretrain_and_finetune_train_from_the_shards(sharded, tmp_path):
    common = ["--steps", "3", "--batch-size", "2", "--set", "train.progress=false"]
    common += ["--set", "task.samples_per_epoch=8", "--set", "task.patch_size=[16,16,16]"]  # 8 tokens, padded
    run = CliRunner().invoke(app, ["pretrain", str(sharded), "--out", str(tmp_path / "mae"), *common])
    assert run.exit_code == 0, run.output
    state = json.loads(next((tmp_path / "mae/run/checkpoints").glob("step-*/state.json")).read_text())
    assert state["data"]["stream"] == [{"epoch": 0, "batches": 3}]
    init = ["--init", str(tmp_path / "mae/model")]
    tuned = CliRunner().invoke(app, ["finetune", str(sharded), "--out", str(tmp_path / "seg"), *init, *common])
    assert tuned.exit_code == 0, tuned.output
    assert json.loads((tmp_path / "seg/run/summary.json").read_text())["status"] == "completed"
