"""Training streams a packed sharded plankton dataset (issue 18, items 6 and 7): each shard's one zip gives the items
its loose curation gives, bit for bit, `hfm plankton pretrain` trains from it, and a damaged zip names itself."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from hfm.plankton.cli import app
from hfm.plankton.data.stream import PlanktonShards, plankton_stream, shard_rows, taxon_counts
from hfm.plankton.format import PACKED_NAME, TSV_NAME
from hfm.shared.errors import HFMError
from hfm.shared.shard_layout import finished_shards

CLASSES = ["Ciliates", "Diatoms", "Flagellates"]


@pytest.fixture(scope="module")
def curated(tmp_path_factory, real_ifcb_images) -> tuple[Path, Path]:
    """24 real WHOI-wiki IFCB images of three groups, curated in shards of 5, loose and packed."""
    folder = tmp_path_factory.mktemp("plankton-packed-stream")
    real_ifcb_images(folder / "raw", groups=CLASSES, per_group=8)
    args = ["curate", str(folder / "raw"), "--name", "t", "--license", "MIT", "--creator", "WHOI", "--kind", "folder"]
    args += ["--pixel-size", "0.27", "--quiet", "--shard-size", "5"]
    for name, extra in (("loose", []), ("packed", ["--pack"])):
        result = CliRunner().invoke(app, [*args, "--out", str(folder / name), *extra], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    return folder / "loose", folder / "packed"


def test_packed_and_loose_shards_stream_identical_items(curated):
    loose, packed = curated
    shards = finished_shards(packed)
    assert len(shards) == 5 and all((shard / PACKED_NAME).is_file() for shard in shards)  # 24 in shards of 5
    assert not any((shard / TSV_NAME).exists() or (shard / "images").exists() for shard in shards)
    assert [shard_rows(s) for s in shards] == [shard_rows(s) for s in finished_shards(loose)]

    loose_items, packed_items = [x for (x,) in plankton_stream(loose)], [x for (x,) in plankton_stream(packed)]
    assert len(packed_items) == len(loose_items) == 24  # none quarantined
    assert torch.equal(torch.stack(packed_items), torch.stack(loose_items))

    assert taxon_counts(packed) == taxon_counts(loose)
    assert sum(taxon_counts(packed).values()) == len(packed_items)  # every folder image is validated
    loose_pairs, packed_pairs = list(plankton_stream(loose, CLASSES)), list(plankton_stream(packed, CLASSES))
    assert torch.equal(torch.stack([p[0] for p in packed_pairs]), torch.stack([p[0] for p in loose_pairs]))
    labels = torch.stack([p[1] for p in packed_pairs])
    assert torch.equal(labels, torch.stack([p[1] for p in loose_pairs]))
    assert torch.bincount(labels).tolist() == [taxon_counts(packed)[taxon] for taxon in CLASSES] == [8, 8, 8]


def test_pretrain_trains_from_packed_shards(curated, tmp_path):
    _, packed = curated
    args = ["pretrain", str(packed), "--out", str(tmp_path / "mae"), "--steps", "4", "--batch-size", "4"]
    args += ["--width", "32", "--depth", "1", "--set", "data.num_workers=2"]  # each worker opens its shards' zips
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    state = json.loads(next((tmp_path / "mae/run/checkpoints").glob("step-*/state.json")).read_text())
    assert state["data"]["stream"] == [{"epoch": 0, "batches": 4}]  # streamed, not loaded: 4 batches of the epoch
    losses = [json.loads(line)["loss"] for line in (tmp_path / "mae/run/metrics.jsonl").read_text().splitlines()]
    assert len(losses) >= 1 and all(0 < loss < 10 for loss in losses)


def damaged_copy(packed: Path, out: Path) -> Path:
    """A copy of the packed dataset's first shard, whose zip the test then damages."""
    shard = out / "shard"
    shutil.copytree(finished_shards(packed)[0], shard)
    return shard


def read_all(shard: Path) -> list:
    return list(PlanktonShards(CLASSES).read(shard, np.random.default_rng(0)))


def test_a_truncated_packed_shard_names_its_zip(curated, tmp_path):
    shard = damaged_copy(curated[1], tmp_path)
    assert len(read_all(shard)) == 5
    zipped = shard / PACKED_NAME
    zipped.write_bytes(zipped.read_bytes()[: zipped.stat().st_size // 2])  # the central directory is gone
    with pytest.raises(HFMError, match=f"{re.escape(str(zipped))}: not a readable packed plankton shard .*BadZipFile"):
        read_all(shard)
    with pytest.raises(HFMError, match=re.escape(str(zipped))):
        shard_rows(shard)


def test_a_corrupt_image_member_names_the_zip_and_the_member(curated, tmp_path):
    shard = damaged_copy(curated[1], tmp_path)
    zipped = shard / PACKED_NAME
    with zipfile.ZipFile(zipped) as archive:
        member = archive.infolist()[2]  # the third image: the first two stream before the damage is met
    data = bytearray(zipped.read_bytes())
    start = member.header_offset + 30 + len(member.filename) + len(member.extra)  # the member's stored bytes
    data[start + member.file_size // 2] ^= 0xFF
    zipped.write_bytes(bytes(data))
    items = PlanktonShards(CLASSES).read(shard, np.random.default_rng(0))
    assert len([next(items), next(items)]) == 2
    with pytest.raises(HFMError, match=re.escape(f"{zipped}: cannot read '{member.filename}'") + ".*Bad CRC-32"):
        next(items)
