"""Issue 20 bad-input corpus through `hfm plankton curate`: hostile EcoTaxa exports end written or quarantined."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.testing.bad_inputs import Probe, check_curate_command, png_bytes

DESCRIBE = DatasetDescription("plankton-test", "CC0-1.0", ["HFM tests"])


def _disc(size: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return np.where((yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= radius**2, 50, 200).astype(np.uint8)


OWNER = ["--name", "hostile", "--license", "CC0-1.0", "--creator", "HFM tests"]


def test_hostile_ecotaxa_export(tmp_path, row, export):
    root = tmp_path / "export"
    images = root / "images"
    images.mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for i, radius in enumerate((6, 8, 10, 12, 14)):
        Image.fromarray(_disc(40, radius)).save(images / f"good{i}.png")
    (images / "dup.png").write_bytes((images / "good0.png").read_bytes())
    (images / "noise.png").write_bytes(b"not an image")
    (images / "bomb.png").write_bytes(png_bytes(9400, 9400))  # 86 KB, 88 Mpx
    data = (images / "good4.png").read_bytes()
    (images / "cut.png").write_bytes(data[: len(data) // 2])
    Image.fromarray(_disc(40, 9)).save(outside / "secret.png")
    (images / "link.png").symlink_to(outside / "secret.png")
    # Each row of the export beside what must become of its object (its object_id is the curation key): "written"
    # or the quarantine code, and a phrase the reason must contain.
    cases = [
        (row(0, "good0.png", object_id="good"), "written", ""),
        (row(1, "noise.png", object_id="../../../X/rel"), "corrupt", "not an image format"),  # its copy stays inside
        (row(2, "good1.png", object_id="/abs/path/obj"), "written", ""),  # under a sanitised name
        (row(3, "good2.png", object_id="___"), "bad_key", "no letters or digits"),
        (row(4, "good3.png", object_id="col a", object_annotation_category="Copepoda"), "written", ""),
        (
            row(5, "good4.png", object_id="col_a", object_annotation_category="Acantharea"),
            "key_collision",
            "already taken by key 'col a'",
        ),
        (row(6, "bomb.png", object_id="bomb"), "too_large", "decompression bomb"),
        (row(7, "link.png", object_id="link"), "symlink_escape", "outside the dataset folder"),
        (
            row(8, "x.png", object_id="escape", img_file_name="../elsewhere/secret.png"),
            "path_escape",
            "outside the dataset folder",
        ),
        (row(9, "dup.png", object_id="dup"), "duplicate", "same pixels as object good"),
        (row(10, "cut.png", object_id="cut"), "truncated", ""),
        (row(11, "missing.png", object_id="missing"), "missing", "not found"),
    ]
    export(root, [fields for fields, _, _ in cases])
    probes = [Probe(fields["object_id"], frozenset({outcome}), says) for fields, outcome, says in cases]
    out = tmp_path / "curated"
    _, problems = check_curate_command(["plankton", "curate", str(root), "--kind", "ecotaxa", *OWNER], out, probes)
    assert problems == []
    assert sorted(p.name for p in (out / "images").iterdir()) == ["abs_path_obj.png", "col_a.png", "good.png"]
    copies = sorted(p.relative_to(out).as_posix() for p in (out / "quarantine" / "files").rglob("*") if p.is_file())
    assert all(c.startswith("quarantine/files/") for c in copies) and len(copies) >= 3
    assert not any("secret" in c for c in copies)  # the symlinked file outside is neither read nor copied
    assert not (tmp_path / "X").exists()


def test_non_utf8_export_is_refused_naming_the_file(tmp_path, row, export):
    path = export(tmp_path / "export", [row(0, "a.png", sample_ship="Bj\u00f8rn")])
    path.write_bytes(path.read_bytes().decode().encode("latin-1"))
    with pytest.raises(HFMError, match=r"ecotaxa_test\.tsv: not UTF-8 text \(byte 0xf8"):
        read_ecotaxa(tmp_path / "export")


def test_tsv_symlinked_from_outside_is_refused(tmp_path, row, export):
    table = export(tmp_path / "elsewhere", [row(0, "a.png")])
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "ecotaxa_link.tsv").symlink_to(table)
    with pytest.raises(HFMError, match="a symlink leading outside"):
        read_ecotaxa(tmp_path / "export")


def test_image_folder_with_a_non_utf8_file_name(tmp_path):
    import os

    from hfm.plankton.curate import curate_objects
    from hfm.plankton.readers.folders import read_image_folder

    taxon = tmp_path / "images" / "Copepoda"
    taxon.mkdir(parents=True)
    Image.fromarray(_disc(40, 6)).save(taxon / "ok.png")
    Image.fromarray(_disc(40, 9)).save(taxon / os.fsdecode(b"caf\xe9.png"))
    objects = read_image_folder(tmp_path / "images", pixel_size_um=10.0)
    summary = curate_objects(objects, tmp_path / "out", DESCRIBE, show_progress=False)
    assert (summary.inputs, summary.written, summary.reasons) == (2, 1, {"bad_key": 1})
