"""The plankton AI-ready format "ecotaxa": an EcoTaxa bundle whose images are the model's canvases.

Layout of a curated dataset folder:

| path | content |
|---|---|
| `images/<object_id>.png` | the object on a square canvas, 16-bit grey (0..65535 = 0..1) |
| `ecotaxa_objects.tsv` | EcoTaxa TSV with its type row (see below) |
| `ecotaxa_objects.zip` | instead of the two above when curated `packed`: both in one uncompressed zip |

Packed (issue 18, item 7), a dataset or each of its shards is one file, EcoTaxa's own import container, so loaders
and remote storage read one file per shard instead of one per image. The zip's members are written in item order
with fixed dates and attributes, so its bytes depend only on the items (the same for any number of workers).

The TSV holds the standard columns in EcoTaxa naming, the canvas pixel size in `process_pixel` (with `process_id`),
the original one in `object_original_pixel_size_um`, the original image's facts as `object_original_height/width`,
`object_image_mode`, `object_image_bit_depth`, `object_image_sha256`, the traits as `object_<trait>`, and the
source's own columns, all under the prefixes EcoTaxa's import takes.

Any EcoTaxa export reads through the same `EcoTaxaFormat`, so `hfm card validate` re-checks curated data and the
images still open in EcoTaxa.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pandas as pd
from PIL import Image

from hfm.plankton.contract import STANDARD_COLUMNS, conform
from hfm.plankton.readers.ecotaxa import read_ecotaxa, write_tsv
from hfm.plankton.readers.images import decode_image
from hfm.shared.arraystore import safe_key
from hfm.shared.contracts import ArraySpec, Sample, SampleContract
from hfm.shared.errors import HFMError, InvalidInput

FORMAT_NAME = "ecotaxa"
TSV_NAME = "ecotaxa_objects.tsv"
PACKED_NAME = "ecotaxa_objects.zip"


def plankton_contract(canvas: int | None) -> SampleContract:
    side = canvas if canvas else None
    return SampleContract(
        name="hfm-plankton-image",
        arrays=[
            ArraySpec(name="image", dims=["channel", "y", "x"], dtype="float32", shape=[1, side, side], min=0, max=1),
            ArraySpec(name="pixel_size_um", dims=["value"], dtype="float32", shape=[1], units="um/px", min=1e-3),
        ],
    )


def write_png16(grey: np.ndarray, path: Path | IO[bytes]) -> None:
    pixels = np.round(np.clip(grey, 0.0, 1.0) * 65535).astype(np.uint16)
    Image.fromarray(pixels).save(path, format="PNG")


def _member(name: str) -> zipfile.ZipInfo:
    """A zip member whose header does not depend on when or by whom it was written."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED  # PNG is compressed already
    info.external_attr = 0o644 << 16
    return info


@dataclass
class EcoTaxaWriter:
    """Writes each canvas as it comes and the TSV at the end, rows sorted by object_id (re-curation gives the same
    bytes whatever the order of the inputs). With `packed`, both go into one uncompressed zip (`PACKED_NAME`)."""

    format_name: ClassVar[str] = FORMAT_NAME
    packed: bool = False
    root: Path | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    archive: zipfile.ZipFile | None = None

    def open(self, root: Path) -> None:
        if self.packed:
            root.mkdir(parents=True, exist_ok=True)
            self.archive = zipfile.ZipFile(root / PACKED_NAME, "w")
        else:
            (root / "images").mkdir(parents=True, exist_ok=True)
        self.root, self.rows = root, []

    def write(self, key: str, sample: Sample) -> None:
        image = f"images/{safe_key(key)}.png"
        grey = np.asarray(sample.arrays["image"])[0]
        if self.archive is not None:
            encoded = io.BytesIO()
            write_png16(grey, encoded)
            self.archive.writestr(_member(image), encoded.getvalue())
        else:
            write_png16(grey, self._opened() / image)
        self.rows.append({**sample.attrs, "image_path": image})

    def close(self) -> list[str]:
        table = pd.DataFrame(self.rows, columns=None if self.rows else list(STANDARD_COLUMNS))
        table = table.sort_values("object_id", kind="stable").reset_index(drop=True) if len(table) else table
        write_tsv(conform(table), self._opened() / TSV_NAME)
        if self.archive is not None:  # the table joins its images in the zip, after them
            tsv = self._opened() / TSV_NAME
            self.archive.writestr(_member(TSV_NAME), tsv.read_bytes())
            self.archive.close()
            self.archive = None
            tsv.unlink()
            return [PACKED_NAME]
        return [TSV_NAME, *sorted(table["image_path"])] if len(table) else [TSV_NAME]

    def _opened(self) -> Path:
        if self.root is None:
            raise RuntimeError("EcoTaxaWriter: open() first")
        return self.root


def curated_export(root: Path) -> Path:
    """What to read in a curated folder (a dataset or a shard): its packed zip if it was packed, else the folder."""
    packed = Path(root) / PACKED_NAME
    return packed if packed.is_file() else Path(root)


class EcoTaxaFormat:
    name = FORMAT_NAME

    def metadata(self, root: Path) -> pd.DataFrame | None:
        return read_ecotaxa(curated_export(root)).table[list(STANDARD_COLUMNS)]

    def count(self, root: Path) -> int:
        return len(read_ecotaxa(curated_export(root)))

    def iter_samples(self, root: Path) -> Iterator[tuple[str, Sample]]:
        objects = read_ecotaxa(curated_export(root))
        for row in range(len(objects)):
            key = str(objects.table.at[row, "object_id"])
            try:
                image = decode_image(objects.read_image(row), key)
            except InvalidInput as error:
                raise HFMError(f"{root}: object {key}: {error}") from error
            pixel = np.array([objects.table.at[row, "pixel_size_um"]], dtype=np.float32)
            yield (
                key,
                Sample(
                    arrays={"image": image.grey[None], "pixel_size_um": pixel},
                    units={"pixel_size_um": "um/px"},
                ),
            )
