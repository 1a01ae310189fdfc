"""The harmonised plankton metadata standard and its Darwin Core mapping.

Every reader (image folders, EcoTaxa exports, IFCB bins) produces one table with the columns of `STANDARD_COLUMNS`,
whatever the instrument; the curated dataset, the model and the exports all speak this table. Columns a source has
beyond these travel along unchanged in `extra_*` form (see `hfm.plankton.readers.ecotaxa`).
"""

from __future__ import annotations

import pandas as pd

from hfm.shared.contracts import ColumnSpec, TableContract

ANNOTATION_STATUSES = ("validated", "predicted", "dubious", "unclassified")

# name -> (dtype, nullable, description). Order is the column order of every table we write.
STANDARD_COLUMNS: dict[str, tuple[str, bool, str]] = {
    "object_id": ("str", False, "identifier of the imaged object, unique within the dataset"),
    "image_path": ("str", False, "image file relative to the dataset folder (or inside its zip)"),
    "instrument": ("str", False, "imaging instrument: FlowCam, IFCB, UVP5, UVP6, ZooScan, ... or unknown"),
    "pixel_size_um": ("float", True, "size of one pixel of the original image in micrometres (um/px)"),
    "latitude": ("float", True, "decimal degrees north, WGS84"),
    "longitude": ("float", True, "decimal degrees east, WGS84"),
    "depth_m": ("float", True, "sampling depth in metres (mid-point of the depth range when a range is given)"),
    "datetime": ("str", True, "sampling date and time, ISO 8601 in UTC"),
    "taxon": ("str", True, "taxonomic or morphological category name (EcoTaxa category)"),
    "annotation_status": ("str", False, f"one of {', '.join(ANNOTATION_STATUSES)}"),
    "sample_id": ("str", True, "identifier of the sample (net tow, bin, cast) the object belongs to"),
}


def standard_contract(require_pixel_size: bool = True) -> TableContract:
    """The table contract of the standard; curation requires a pixel size, reading does not."""
    ranges = {"latitude": (-90.0, 90.0), "longitude": (-180.0, 180.0), "depth_m": (0.0, 11000.0)}
    columns = []
    for name, (dtype, nullable, description) in STANDARD_COLUMNS.items():
        lo, hi = ranges.get(name, (None, None))
        if name == "pixel_size_um":
            nullable, lo = not require_pixel_size, 1e-3
        columns.append(
            ColumnSpec(
                name=name,
                dtype="datetime" if name == "datetime" else dtype,  # type: ignore[arg-type]
                nullable=nullable,
                min=lo,
                max=hi,
                allowed=list(ANNOTATION_STATUSES) if name == "annotation_status" else None,
                units={"pixel_size_um": "um/px", "depth_m": "m", "latitude": "degrees_north"}.get(name),
                description=description,
            )
        )
    return TableContract(name="hfm-plankton-objects", columns=columns)


def empty_standard_table() -> pd.DataFrame:
    return pd.DataFrame(
        {name: pd.Series(dtype="float64" if t == "float" else "object") for name, (t, _, _) in STANDARD_COLUMNS.items()}
    )


def conform(table: pd.DataFrame) -> pd.DataFrame:
    """Standard columns first (missing ones added empty, floats coerced), other columns after, in their order."""
    table = table.copy()
    for name, (dtype, _, _) in STANDARD_COLUMNS.items():
        if name not in table.columns:
            table[name] = None
        if dtype == "float":
            table[name] = pd.to_numeric(table[name], errors="coerce").astype("float64")
        else:
            table[name] = table[name].astype("object").where(table[name].notna(), None)
    rest = [c for c in table.columns if c not in STANDARD_COLUMNS]
    return table[[*STANDARD_COLUMNS, *rest]].reset_index(drop=True)


# Darwin Core Occurrence terms (https://dwc.tdwg.org/terms/) filled from the standard columns.
DWC_FROM_STANDARD = {
    "occurrenceID": "object_id",
    "eventID": "sample_id",
    "scientificName": "taxon",
    "decimalLatitude": "latitude",
    "decimalLongitude": "longitude",
    "minimumDepthInMeters": "depth_m",
    "maximumDepthInMeters": "depth_m",
    "eventDate": "datetime",
    "associatedMedia": "image_path",
    "identificationVerificationStatus": "annotation_status",
}


def to_darwin_core(table: pd.DataFrame) -> pd.DataFrame:
    """One Darwin Core occurrence per object: an image of an organism taken by an instrument (MachineObservation)."""
    out = pd.DataFrame({term: table[column].to_numpy() for term, column in DWC_FROM_STANDARD.items()})
    out["basisOfRecord"] = "MachineObservation"
    out["occurrenceStatus"] = "present"
    out["organismQuantity"] = 1
    out["organismQuantityType"] = "individuals"
    out["geodeticDatum"] = "EPSG:4326"
    # Predictions are machine identifications; only a human-validated category is a verified one.
    out["identifiedBy"] = table["annotation_status"].map(
        lambda s: "human annotator" if s == "validated" else "automated classifier" if s == "predicted" else None
    )
    out["samplingProtocol"] = table["instrument"].map(lambda s: f"in situ / bench imaging with {s}")
    return out
