"""Sharded curation (issue 18): each shard an EcoTaxa TSV plus its images, read back like one piece, same bytes for
any number of workers, and the same bytes after SIGKILLs at random moments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from hfm.plankton.cli import app
from hfm.plankton.curate import curate_objects
from hfm.plankton.data import load_curated
from hfm.plankton.format import TSV_NAME, EcoTaxaFormat
from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.shard_curation import Sharding
from hfm.shared.shard_view import readable_format
from hfm.shared.testing.bad_inputs import outcomes
from hfm.shared.testing.kill_resume import check_kill_and_resume, tree_bytes

DESCRIBE = DatasetDescription("plankton-test", "CC0-1.0", ["HFM tests"])


def _read_all(root: Path) -> tuple[dict[str, dict[str, np.ndarray]], list[dict]]:
    fmt = readable_format(root, EcoTaxaFormat())
    samples = {key: dict(sample.arrays) for key, sample in fmt.iter_samples(root)}
    table = fmt.metadata(root)
    assert table is not None and fmt.count(root) == len(samples) == len(table)
    return samples, table.astype(object).where(table.notna(), None).to_dict("records")


def test_sharded_curation_reads_back_like_the_unsharded_one(mixed_export, tmp_path):
    whole = curate_objects(read_ecotaxa(mixed_export), tmp_path / "whole", DESCRIBE, show_progress=False)
    # 13 rows in shards of 7: the duplicate (row 6) shares its shard with the object it copies (row 0)
    sharded = curate_objects(
        read_ecotaxa(mixed_export), tmp_path / "sharded", DESCRIBE, show_progress=False, sharding=Sharding(7, workers=2)
    )
    assert (sharded.written, sharded.quarantined) == (whole.written, whole.quarantined) == (6, 7)
    assert sharded.reasons == whole.reasons and outcomes(tmp_path / "sharded") == outcomes(tmp_path / "whole")
    shards = sorted(p.name for p in (tmp_path / "sharded" / "shards").iterdir())
    assert shards == ["shard-000000", "shard-000001"]
    assert (tmp_path / "sharded" / "shards" / shards[0] / TSV_NAME).is_file()  # each shard an EcoTaxa bundle
    samples_whole, rows_whole = _read_all(tmp_path / "whole")
    samples_sharded, rows_sharded = _read_all(tmp_path / "sharded")
    assert list(samples_sharded) == list(samples_whole) == [f"obj_{i:03d}" for i in range(6)]
    for key, arrays in samples_whole.items():
        assert arrays.keys() == samples_sharded[key].keys()
        for name, values in arrays.items():
            assert np.array_equal(values, samples_sharded[key][name])
    assert rows_sharded == rows_whole
    assert validate_card(tmp_path / "sharded") == []
    canvases, pixels, _ = load_curated(tmp_path / "sharded")  # the training loader reads the shards too
    canvases_whole, pixels_whole, _ = load_curated(tmp_path / "whole")
    assert canvases.shape == (6, 64, 64) and np.array_equal(canvases, canvases_whole)
    assert np.array_equal(pixels, pixels_whole)


def test_sharded_duplicates_are_found_within_a_shard_only(mixed_export, tmp_path):
    # shards of 5: the copy (row 6) is in shard 1, the object it copies (row 0) in shard 0
    summary = curate_objects(
        read_ecotaxa(mixed_export), tmp_path / "d", DESCRIBE, show_progress=False, sharding=Sharding(5, workers=1)
    )
    assert (summary.written, summary.quarantined) == (7, 6)
    assert "obj_006" not in outcomes(tmp_path / "d")


def _curate_cli(source: Path, out: Path, *options: str) -> None:
    args = ["curate", str(source), "--out", str(out), "--name", "t", "--license", "CC0-1.0", "--creator", "HFM"]
    args.append("--quiet")
    result = CliRunner().invoke(app, [*args, *options], catch_exceptions=False)
    assert result.exit_code == 0, result.output


def test_one_and_two_workers_write_the_same_bytes(mixed_export, tmp_path):
    _curate_cli(mixed_export, tmp_path / "one", "--shard-size", "4", "--workers", "1")
    _curate_cli(mixed_export, tmp_path / "two", "--shard-size", "4", "--workers", "2")
    one, two = tree_bytes(tmp_path / "one"), tree_bytes(tmp_path / "two")
    assert len([name for name in one if name.endswith("shard.json")]) == 4  # 13 objects in shards of 4
    assert one == two


def test_parts_then_merge_give_the_one_process_dataset(mixed_export, tmp_path):
    _curate_cli(mixed_export, tmp_path / "whole", "--shard-size", "4", "--workers", "1")
    for part in ("0/2", "1/2"):
        _curate_cli(mixed_export, tmp_path / "parts", "--shard-size", "4", "--workers", "1", "--part", part)
    assert not (tmp_path / "parts").exists()  # parts only: nothing merged, no dataset yet
    _curate_cli(mixed_export, tmp_path / "parts", "--shard-size", "4", "--workers", "1")
    assert tree_bytes(tmp_path / "parts") == tree_bytes(tmp_path / "whole")


KILLED_CURATION = """
import sys
from hfm.plankton.cli import app
app(["curate", {raw!r}, "--out", sys.argv[1], "--name", "killed", "--license", "MIT", "--creator", "WHOI", "--quiet",
     "--kind", "folder", "--pixel-size", "0.27", "--shard-size", "6", "--workers", "2"])
"""


def test_real_images_killed_at_random_moments_resume_to_the_same_bytes(tmp_path, real_ifcb_images):
    raw = real_ifcb_images(tmp_path / "raw", count=48)
    code = KILLED_CURATION.format(raw=str(raw))
    problems = check_kill_and_resume(code, tmp_path / "killed", tmp_path / "whole", kills=4, seed=18, timeout_s=120)
    assert problems == []
    assert len(list((tmp_path / "killed" / "shards").iterdir())) == 8
    samples, rows = _read_all(tmp_path / "killed")
    assert len(samples) == len(rows) >= 40  # real images: nearly all curate
