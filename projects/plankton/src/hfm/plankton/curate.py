"""Curating plankton objects into the "ecotaxa" AI-ready format, quarantining what fails with its reason.

Checks, each a quarantine reason code: `path_escape` (image path leaves the dataset), `missing` (no such image),
`corrupt` / `truncated` (undecodable file), `empty` (no pixels, or a uniform image), `missing_pixel_size` (no um/px,
so no physical scale), `duplicate` (same pixels as an earlier object, by content hash), and the standard's table
contract (coordinates in range, known annotation status).

With a `Sharding`, objects are curated in shards of its size in rows (an EcoTaxa TSV plus its images each, by its
workers, resumable after a kill). A `duplicate` is then an earlier object of the same shard: a shard's
bytes may depend only on its own objects, never on which shards another process or an earlier run curated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hfm.plankton.contract import STANDARD_COLUMNS, standard_contract
from hfm.plankton.format import FORMAT_NAME, EcoTaxaWriter, plankton_contract
from hfm.plankton.metrics import measure_traits
from hfm.plankton.readers.images import FitMode, decode_image, fit_canvas
from hfm.plankton.readers.objects import PlanktonObjects
from hfm.shared.contracts import Sample
from hfm.shared.curate_driver import CuratedDataset, CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem, CurationSummary
from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.shard_curation import Sharding


@dataclass
class CurationConfig:
    canvas: int = 64
    fit: FitMode = "pad"
    default_pixel_size_um: float | None = None  # used only where a row has none
    traits: bool = True


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


class _ObjectLoader:
    """Loads one object; remembers pixel hashes across objects, so curation order decides which copy is kept.

    With `shard_size`, hashes are remembered per shard (row // shard_size): one process may curate several shards,
    and what it saw in one must not change another's bytes."""

    def __init__(self, objects: PlanktonObjects, config: CurationConfig, shard_size: int | None = None) -> None:
        self.objects, self.config, self.shard_size = objects, config, shard_size
        self.seen: dict[tuple[int, str], str] = {}

    def __call__(self, row: int) -> Sample:
        record = {k: _clean(v) for k, v in self.objects.table.iloc[row].to_dict().items()}
        key = str(record["object_id"])
        image = decode_image(self.objects.read_image(row), f"{key} ({record['image_path']})")
        pixel = record["pixel_size_um"] if record["pixel_size_um"] is not None else self.config.default_pixel_size_um
        if pixel is None or not pixel > 0:
            raise InvalidInput(
                "no pixel size (um/px): give process_pixel in the export or --pixel-size",
                field="pixel_size_um",
                code="missing_pixel_size",
            )
        digest = image.content_hash()
        scope = (row // self.shard_size if self.shard_size else 0, digest)
        if scope in self.seen:
            raise InvalidInput(f"same pixels as object {self.seen[scope]}", field="image", code="duplicate")
        self.seen[scope] = key
        canvas, canvas_pixel = fit_canvas(image.grey, pixel, self.config.canvas, self.config.fit)
        attrs = {
            **record,
            "pixel_size_um": canvas_pixel,
            # Facts of the original image, per object: EcoTaxa takes free columns of objects, not of images.
            "object_original_pixel_size_um": float(pixel),
            "object_original_height": image.grey.shape[0],
            "object_original_width": image.grey.shape[1],
            "object_image_mode": image.mode,
            "object_image_bit_depth": image.bit_depth,
            "object_image_sha256": digest,
        }
        if self.config.traits:
            attrs |= {f"object_{k}": v for k, v in measure_traits(image.grey, pixel).items()}
        return Sample(
            arrays={"image": canvas[None], "pixel_size_um": np.array([canvas_pixel], dtype=np.float32)},
            units={"pixel_size_um": "um/px"},
            attrs=attrs,
        )


def curation_items(
    objects: PlanktonObjects, config: CurationConfig, shard_size: int | None = None
) -> list[CurationItem]:
    loader = _ObjectLoader(objects, config, shard_size)
    items = []
    for row in range(len(objects)):
        path = str(objects.table.at[row, "image_path"])
        try:
            source = [objects.store.source(path)]
        except InvalidInput:
            source = []  # an escaping path is never read, not even to copy it into quarantine
        items.append(CurationItem(str(objects.table.at[row, "object_id"]), source, lambda r=row: loader(r)))
    return items


def curate_objects(
    objects: PlanktonObjects,
    out_dir: str | Path,
    describe: DatasetDescription,
    config: CurationConfig | None = None,
    **options: Any,
) -> CurationSummary:
    """Decode, check, fit to the canvas, measure traits, write the dataset and its card (the core's driver).

    `options`: those of `curate_plankton` but `sharding.part` (a whole run is always merged and summarised)."""
    if options.get("sharding", Sharding()).part is not None:
        raise HFMError("curate_objects merges a whole run; curate one part with curate_plankton")
    done = curate_plankton(objects, out_dir, describe, config, **options)
    assert done.summary is not None  # no part: always merged and summarised
    return done.summary


def curate_plankton(
    objects: PlanktonObjects,
    out_dir: str | Path,
    describe: DatasetDescription,
    config: CurationConfig | None = None,
    *,
    show_progress: bool = True,
    sharding: Sharding = Sharding(),
    packed: bool = False,
) -> CuratedDataset:
    """`curate_objects` with every option of the driver; with `sharding.part`, only that part's shards (no
    summary). With `packed`, each shard (or the dataset) is one uncompressed EcoTaxa zip instead of a TSV and a
    file per image: an image folder is packed once, at curation (`hfm.plankton.format`)."""
    config = config or CurationConfig()
    if not describe.description or "keywords" not in describe.extra:
        instruments = sorted(set(objects.table["instrument"].dropna()))
        describe = replace(
            describe,
            description=describe.description or f"{describe.name}: plankton images curated from {objects.origin.name}",
            extra={"keywords": ["plankton", "imaging", "EcoTaxa", *instruments], **describe.extra},
        )
    items = curation_items(objects, config, sharding.shard_size)
    # Unsharded, the card lists every image with its sha256; sharded, each shard's manifest lists its own and the
    # card only the table the objects came from (a list of every image would grow with the collection).
    sources = (
        ([objects.origin] if objects.origin.is_file() else [])
        if sharding.shard_size
        else sorted({Path(s) for i in items for s in i.sources})
    )
    return curate_dataset(
        items,
        out_dir,
        domain="plankton",
        format=FORMAT_NAME,
        contract=plankton_contract(config.canvas),
        metadata_contract=standard_contract(require_pixel_size=True),
        writer=EcoTaxaWriter(packed=packed),  # also the per-shard writer: each shard is a small EcoTaxa bundle
        describe=describe,
        tool=CurationTool(
            "hfm plankton curate",
            "hfm-plankton",
            packages=("pillow", "scikit-image", "numpy", "pandas"),
            parameters={
                "canvas": config.canvas,
                "fit": config.fit,
                "columns": list(STANDARD_COLUMNS),
                **({"packed": True} if packed else {}),
            },
        ),
        sources=sources,
        show_progress=show_progress,
        sharding=sharding,
    )
