"""Packed curation (issue 18, item 7): each shard one uncompressed EcoTaxa zip instead of a file per image, read
back through the format like the unpacked shards, with the same bytes for any number of workers."""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hfm.plankton.cli import app
from hfm.plankton.curate import curate_objects
from hfm.plankton.data.corpus import read_whoi_wiki
from hfm.plankton.format import PACKED_NAME, TSV_NAME, EcoTaxaFormat
from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.plankton.readers.objects import PlanktonObjects
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shard_curation import Sharding
from hfm.shared.shard_layout import SHARD_KEYS, SHARD_MANIFEST, SHARD_QUARANTINE
from hfm.shared.shard_view import readable_format
from hfm.shared.testing.kill_resume import tree_bytes

DESCRIBE = DatasetDescription("plankton-packed", "CC0-1.0", ["HFM tests"])


def curate(export: Path, out: Path, *, packed: bool, workers: int = 1):
    sharding = Sharding(4, workers=workers)
    return curate_objects(read_ecotaxa(export), out, DESCRIBE, show_progress=False, sharding=sharding, packed=packed)


def read_back(root: Path):
    fmt = readable_format(root, EcoTaxaFormat())
    samples = [(key, {n: a.copy() for n, a in sample.arrays.items()}) for key, sample in fmt.iter_samples(root)]
    return samples, fmt.metadata(root), fmt.count(root)


def test_packed_shards_read_back_like_unpacked_ones(mixed_export, tmp_path):
    loose = curate(mixed_export, tmp_path / "loose", packed=False)
    packed = curate(mixed_export, tmp_path / "packed", packed=True)
    assert (packed.written, packed.quarantined) == (loose.written, loose.quarantined) == (7, 6)
    shards = sorted((tmp_path / "packed" / "shards").iterdir())
    assert len(shards) == 4  # 13 objects in shards of 4
    bookkeeping = {SHARD_MANIFEST, SHARD_KEYS, SHARD_QUARANTINE, "quarantine"}
    for shard in shards:  # one data file per shard: no images/ folder, no loose TSV
        assert {p.name for p in shard.iterdir()} - bookkeeping == {PACKED_NAME}
    (loose_samples, loose_table, loose_count), (packed_samples, packed_table, packed_count) = (
        read_back(tmp_path / "loose"),
        read_back(tmp_path / "packed"),
    )
    assert packed_count == loose_count == 7
    assert [key for key, _ in packed_samples] == [key for key, _ in loose_samples]
    for (_, got), (_, expected) in zip(packed_samples, loose_samples, strict=True):
        assert got.keys() == expected.keys()
        assert all(np.array_equal(got[name], expected[name]) for name in expected)
    assert packed_table.equals(loose_table)
    assert validate_card(tmp_path / "packed") == []  # every shard's zip checked against its manifest's sha256


def test_a_packed_shard_is_an_uncompressed_ecotaxa_zip(mixed_export, tmp_path):
    curate(mixed_export, tmp_path / "packed", packed=True)
    first = tmp_path / "packed" / "shards" / "shard-000000"
    with zipfile.ZipFile(first / PACKED_NAME) as archive:
        members = archive.infolist()
        names = [m.filename for m in members]
    written = (p for p in (tmp_path / "packed").rglob("*.png") if "quarantine" not in p.parts)
    loose_images = sorted(p.name for p in written)
    assert names[-1] == TSV_NAME and all(n.startswith("images/") and n.endswith(".png") for n in names[:-1])
    assert {m.compress_type for m in members} == {zipfile.ZIP_STORED}
    assert {m.date_time for m in members} == {(1980, 1, 1, 0, 0, 0)}
    assert loose_images == []  # the written canvases live only in the zips (quarantine keeps its copies)
    objects = read_ecotaxa(first / PACKED_NAME)  # EcoTaxa's own container: any EcoTaxa reader takes it
    assert len(objects) == len(names) - 1 == 4  # shard 0: rows 0-3, all written


def test_packed_shards_have_the_same_bytes_for_one_and_two_workers(mixed_export, tmp_path):
    curate(mixed_export, tmp_path / "one", packed=True, workers=1)
    curate(mixed_export, tmp_path / "two", packed=True, workers=2)
    one, two = tree_bytes(tmp_path / "one"), tree_bytes(tmp_path / "two")
    assert sum(name.endswith(PACKED_NAME) for name in one) == 4
    assert one == two


def real_ifcb_objects(count: int) -> PlanktonObjects:
    """The first `count` real WHOI-wiki IFCB images, one file each in an image folder."""
    try:
        wiki = read_whoi_wiki(require_data("plankton/whoi-wiki"))
    except DataUnavailable as error:
        pytest.skip(str(error))
    return replace(wiki, table=wiki.table.iloc[:count].reset_index(drop=True))


def test_a_real_image_folder_is_packed_once_per_shard(tmp_path):
    objects = real_ifcb_objects(48)

    def run(out: Path, packed: bool, workers: int):
        sharding = Sharding(12, workers=workers)
        return curate_objects(objects, out, DESCRIBE, show_progress=False, sharding=sharding, packed=packed)

    loose, packed = run(tmp_path / "loose", False, 1), run(tmp_path / "packed", True, 2)
    run(tmp_path / "packed-1", True, 1)
    assert packed.written == loose.written >= 40 and packed.quarantined == loose.quarantined
    data_files = [p for p in (tmp_path / "packed" / "shards").rglob("*") if p.is_file() and "quarantine" not in p.parts]
    assert (
        sorted(p.name for p in data_files if p.name not in (SHARD_MANIFEST, SHARD_KEYS, SHARD_QUARANTINE))
        == [PACKED_NAME] * 4
    )  # 48 images in 4 files, against one per image unpacked
    (loose_samples, loose_table, _), (packed_samples, packed_table, _) = (
        read_back(tmp_path / "loose"),
        read_back(tmp_path / "packed"),
    )
    assert [key for key, _ in packed_samples] == [key for key, _ in loose_samples]
    for (_, got), (_, expected) in zip(packed_samples, loose_samples, strict=True):
        assert all(np.array_equal(got[name], expected[name]) for name in expected)
    assert packed_table.equals(loose_table)
    assert tree_bytes(tmp_path / "packed") == tree_bytes(tmp_path / "packed-1")


def test_the_curate_command_packs_with_pack(mixed_export, tmp_path):
    args = ["curate", str(mixed_export), "--out", str(tmp_path / "cli"), "--name", "t", "--license", "CC0-1.0"]
    args += ["--creator", "HFM", "--quiet", "--shard-size", "4", "--workers", "2", "--pack"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    curate(mixed_export, tmp_path / "api", packed=True)
    assert sorted(p.parent.name for p in (tmp_path / "cli").rglob(PACKED_NAME)) == [f"shard-{i:06d}" for i in range(4)]
    assert [k for k, _ in read_back(tmp_path / "cli")[0]] == [k for k, _ in read_back(tmp_path / "api")[0]]
