"""Small EcoTaxa exports written on the fly: every image mode the instruments produce, with known objects."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hfm.shared.sample_data import DataUnavailable, require_data

HEADER = [
    "img_file_name",
    "img_rank",
    "object_id",
    "object_lat",
    "object_lon",
    "object_date",
    "object_time",
    "object_depth_min",
    "object_depth_max",
    "object_annotation_category",
    "object_annotation_status",
    "object_area",
    "acq_instrument",
    "process_pixel",
    "sample_id",
    "sample_ship",
]
TYPES = ["[t]", "[f]", "[t]", "[f]", "[f]", "[t]", "[t]", "[f]", "[f]", "[t]", "[t]", "[f]", "[t]", "[f]", "[t]", "[t]"]


def disc(size: int, radius: float, dark: bool = True) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    inside = (yy - size / 2 + 0.5) ** 2 + (xx - size / 2 + 0.5) ** 2 <= radius**2
    return np.where(inside, 0.2 if dark else 0.9, 0.8 if dark else 0.1)


def write_export(folder: Path, rows: list[dict], typed: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ecotaxa_test.tsv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(HEADER)
        if typed:
            writer.writerow(TYPES)
        for row in rows:
            writer.writerow([row.get(h, "") for h in HEADER])
    return path


def base_row(i: int, name: str, **over: object) -> dict:
    row = {
        "img_file_name": f"images/{name}",
        "img_rank": 0,
        "object_id": f"obj_{i:03d}",
        "object_lat": 43.68,
        "object_lon": 7.31,
        "object_date": "20230415",
        "object_time": "093000",
        "object_depth_min": 0,
        "object_depth_max": 50,
        "object_annotation_category": "Copepoda" if i % 2 else "Acantharea",
        "object_annotation_status": "validated",
        "object_area": 100 + i,
        "acq_instrument": "ZooScan",
        "process_pixel": 10.58,
        "sample_id": "tow_1",
        "sample_ship": "Sagitta",
    }
    row.update(over)
    return row


@pytest.fixture
def mixed_export(tmp_path: Path) -> Path:
    """Six good objects in grey, RGB, RGBA and 16-bit, plus one of each failure curation must quarantine."""
    root = tmp_path / "export"
    images = root / "images"
    images.mkdir(parents=True)
    rows = []
    grey = disc(40, 10)
    Image.fromarray((grey * 255).astype(np.uint8)).save(images / "grey.png")
    rows.append(base_row(0, "grey.png"))
    rgb = np.stack([grey, grey * 0.9, grey * 0.8], -1)
    Image.fromarray((rgb * 255).astype(np.uint8)).save(images / "rgb.jpg", quality=95)
    rows.append(base_row(1, "rgb.jpg"))
    rgba = np.zeros((30, 30, 4), np.uint8)
    rgba[..., :3] = (disc(30, 8)[..., None] * 255).astype(np.uint8)
    rgba[..., 3] = np.where(disc(30, 12) < 0.5, 255, 0)  # opaque inside a larger disc
    Image.fromarray(rgba, "RGBA").save(images / "rgba.png")
    rows.append(base_row(2, "rgba.png"))
    deep = (disc(50, 15) * 65535).astype(np.uint16)
    Image.fromarray(deep).save(images / "deep16.png")
    rows.append(base_row(3, "deep16.png"))
    big = disc(200, 60)  # larger than a 64 canvas: must be shrunk and its pixel size grow
    Image.fromarray((big * 255).astype(np.uint8)).save(images / "big.png")
    rows.append(base_row(4, "big.png", object_lat="", object_lon=""))
    Image.fromarray((disc(36, 7) * 255).astype(np.uint8)).save(images / "other.png")
    rows.append(base_row(5, "other.png", object_annotation_status="", object_annotation_category=""))
    # failures
    (images / "dup.png").write_bytes((images / "grey.png").read_bytes())
    rows.append(base_row(6, "dup.png"))
    data = (images / "big.png").read_bytes()
    (images / "cut.png").write_bytes(data[: len(data) // 2])
    rows.append(base_row(7, "cut.png"))
    (images / "noise.png").write_bytes(b"this is not an image")
    rows.append(base_row(8, "noise.png"))
    Image.fromarray(np.full((20, 20), 128, np.uint8)).save(images / "blank.png")
    rows.append(base_row(9, "blank.png"))
    Image.fromarray((disc(30, 9) * 255).astype(np.uint8)).save(images / "nopix.png")
    rows.append(base_row(10, "nopix.png", process_pixel=""))
    rows.append(base_row(11, "../../etc/passwd"))
    rows.append(base_row(12, "missing.png"))
    write_export(root, rows)
    return root


@pytest.fixture
def row():
    """`row(i, image_name, **overrides)`: one EcoTaxa row with plausible ZooScan values."""
    return base_row


@pytest.fixture
def export():
    """`export(folder, rows, typed=True)`: writes `ecotaxa_test.tsv` in folder."""
    return write_export


@pytest.fixture(scope="session")
def ecotaxa_import_errors():
    """EcoTaxa's import rules (`ecotaxa_rules.py` beside this file): TSV path -> its messages, [] if it imports."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "plankton_ecotaxa_rules", Path(__file__).with_name("ecotaxa_rules.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check_import


def copy_real_ifcb_images(
    folder: Path, *, count: int | None = None, groups: Sequence[str] = (), per_group: int = 0
) -> Path:
    """Real WHOI-wiki IFCB images in the image-folder layout (one sub-folder per group): the first `count` by file
    name, or with `groups` the first `per_group` of each group. Skips the test where the data is absent."""
    try:
        wiki = require_data("plankton/whoi-wiki")
    except DataUnavailable as error:
        pytest.skip(str(error))
    with open(wiki / "labels.csv", newline="") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda row: row["file"])
    if groups:
        rows = [row for group in groups for row in [r for r in rows if r["group"] == group][:per_group]]
    else:
        rows = rows[:count]
    for row in rows:
        (folder / row["group"]).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wiki / "images" / row["file"], folder / row["group"] / row["file"])
    return folder


@pytest.fixture(scope="session")
def real_ifcb_images():
    """`real_ifcb_images(folder, count=N)` or `(folder, groups=..., per_group=N)`: see `copy_real_ifcb_images`."""
    return copy_real_ifcb_images
