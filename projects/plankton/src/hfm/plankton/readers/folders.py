"""Image folders: one sub-folder per class (`Copepoda/img001.png`), or loose images that are not yet classified."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hfm.plankton.readers.objects import PlanktonObjects
from hfm.plankton.readers.stores import FolderStore
from hfm.shared.errors import HFMError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif"}


def read_image_folder(
    root: str | Path, instrument: str = "unknown", pixel_size_um: float | None = None
) -> PlanktonObjects:
    """Every image under `root`; a first-level sub-folder names the taxon of the images in it (validated)."""
    root = Path(root)
    if not root.is_dir():
        raise HFMError(f"{root}: not a folder of images")
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        relative = path.relative_to(root)
        taxon = relative.parts[0] if len(relative.parts) > 1 else None
        rows.append(
            {
                "object_id": relative.with_suffix("").as_posix().replace("/", "__"),
                "image_path": relative.as_posix(),
                "instrument": instrument,
                "pixel_size_um": pixel_size_um,
                "taxon": taxon,
                "annotation_status": "validated" if taxon else "unclassified",
            }
        )
    if not rows:
        raise HFMError(f"{root}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return PlanktonObjects(pd.DataFrame(rows), FolderStore(root), root)
