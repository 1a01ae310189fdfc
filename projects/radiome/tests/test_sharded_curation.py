"""Sharded curation (issue 18) of real MRI (INIA19): each shard a small nnU-Net raw dataset, read back as one."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.radiome.format import NnunetRawFormat, list_cases
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import CuratedDataset, DatasetDescription
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shard_curation import Sharding, ShardPart
from hfm.shared.shard_view import readable_format
from hfm.shared.testing.kill_resume import check_kill_and_resume
from hfm.shared.testing.sharding import check_part_then_merge, check_sharded_runs

DESCRIBE = DatasetDescription("inia19-blocks", "BSD-2-Clause", ["HFM tests"])
SPACING = (4.0, 4.0, 4.0)


def write_brain_blocks(raw: Path) -> Path:
    """niivue's real INIA19 T1 cut into 8 blocks of 56^3 mm with the atlas' brain mask as label (training cases),
    and one file cut short (a test case, quarantined)."""
    try:
        t1 = require_data("radiome/niivue/inia19-t1-brain.nii.gz")
        atlas = require_data("radiome/niivue/inia19-NeuroMaps.nii.gz")
    except DataUnavailable as missing:
        pytest.skip(str(missing))
    image, mask = nib.load(t1), (np.asarray(nib.load(atlas).dataobj) > 0).astype(np.uint8)
    for folder in ("imagesTr", "labelsTr", "imagesTs"):
        (raw / folder).mkdir(parents=True)
    corners = [(x, y, z) for x in (0, 56) for y in (0, 94) for z in (0, 16)]
    for index, (x, y, z) in enumerate(corners):
        block = (slice(x, x + 112), slice(y, y + 112), slice(z, z + 112))  # 0.5 mm voxels
        affine = image.slicer[block].affine
        nib.save(nib.Nifti1Image(np.asarray(image.dataobj[block]), affine), raw / "imagesTr" / f"b{index}_0000.nii.gz")
        nib.save(nib.Nifti1Image(mask[block], affine), raw / "labelsTr" / f"b{index}.nii.gz")
    cut = gzip.decompress(t1.read_bytes())[:5000]
    (raw / "imagesTs" / "cut_0000.nii.gz").write_bytes(gzip.compress(cut, mtime=0))
    labels = {"background": 0, "brain": 1}
    info = {"channel_names": {"0": "T1"}, "labels": labels, "numTraining": 8, "file_ending": ".nii.gz"}
    (raw / "dataset.json").write_text(json.dumps(info))
    return raw


@pytest.fixture(scope="module")
def curated(tmp_path_factory) -> dict[str, Path]:
    """The 9 inputs curated whole, and in shards of 3 cases by one and by two workers."""
    root = tmp_path_factory.mktemp("sharded")
    raw = write_brain_blocks(root / "raw")
    runs = {"whole": Sharding(), "one": Sharding(3, workers=1), "two": Sharding(3, workers=2)}
    for name, sharding in runs.items():
        curate_nnunet(raw, root / name, SPACING, DESCRIBE, show_progress=False, sharding=sharding)
    return {"raw": raw} | {name: root / name for name in runs}


def test_sharded_dataset_reads_back_like_the_unsharded_one(curated):
    whole, sharded = NnunetRawFormat(), readable_format(curated["two"], NnunetRawFormat())
    shards = sorted((curated["two"] / "shards").iterdir())
    assert [len(list_cases(shard)) for shard in shards] == [3, 3, 2]  # 9 inputs; the cut file is quarantined
    assert sharded.count(curated["two"]) == whole.count(curated["whole"]) == 8
    pairs = zip(whole.iter_samples(curated["whole"]), sharded.iter_samples(curated["two"]), strict=True)
    for (key_whole, sample_whole), (key_sharded, sample_sharded) in pairs:
        assert key_sharded == key_whole
        assert sample_sharded.arrays["image"].shape == (1, 14, 14, 14)  # 56 mm at 4 mm
        assert np.array_equal(sample_sharded.arrays["image"], sample_whole.arrays["image"])
        assert np.array_equal(sample_sharded.arrays["label"], sample_whole.arrays["label"])
        assert sample_sharded.attrs == sample_whole.attrs
    pd.testing.assert_frame_equal(sharded.metadata(curated["two"]), whole.metadata(curated["whole"]))
    assert json.loads((shards[2] / "dataset.json").read_text())["numTraining"] == 2
    report = pd.read_csv(curated["two"] / "quarantine" / "report.csv")
    assert list(report["key"]) == ["cut"]
    assert validate_card(curated["two"], NnunetRawFormat()) == []


def test_results_do_not_depend_on_the_workers_and_the_one_folder_reader_names_shards(curated):
    assert check_sharded_runs(curated["one"], curated["two"], list_cases) == []


def test_one_part_is_refused_until_the_run_without_part_merges_it(curated, tmp_path):
    out = tmp_path / "parts"

    def curate(sharding: Sharding) -> CuratedDataset:
        return curate_nnunet(curated["raw"], out, SPACING, DESCRIBE, show_progress=False, sharding=sharding)

    part, whole = Sharding(3, part=ShardPart(1, 2)), Sharding(3, workers=2)  # the part: shard 1 only
    problems = check_part_then_merge(
        curate, out, part, whole, finished=1, fmt=NnunetRawFormat(), reader=list_cases, expected=curated["two"]
    )
    assert problems == []


# `hfm radiome curate` itself, one case per shard by two workers, SIGKILLed at random moments and started again.
CURATE_COMMAND = """
import sys
from hfm.radiome.cli import app
app(["curate", {raw!r}, "--out", sys.argv[1], "--license", "BSD-2-Clause", "--creator", "HFM tests",
     "--spacing", "4", "--quiet", "--shard-size", "1", "--workers", "2"], standalone_mode=False)
"""


def test_curate_killed_at_random_moments_resumes_to_the_same_bytes(tmp_path):
    raw = write_brain_blocks(tmp_path / "raw")
    code = CURATE_COMMAND.format(raw=str(raw))
    problems = check_kill_and_resume(code, tmp_path / "killed", tmp_path / "whole", kills=3, seed=18, timeout_s=120)
    assert problems == []
    assert len(list((tmp_path / "killed" / "shards").iterdir())) == 9
