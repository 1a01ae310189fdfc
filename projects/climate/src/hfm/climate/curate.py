"""`curate_fields`: raw netCDF/GRIB/zarr files -> one CF zarr store, a quarantine with reasons, and a card.

Each input file is one curation item. Fixable problems are fixed (units converted, axes sorted, times put in order);
what cannot be fixed (unreadable file, unknown units, repeated or irregular times, a grid or variable set that
differs from the first file's, too many NaNs) sends the file to quarantine with its reason.

With a `Sharding`, files are curated in shards of its size (in file-name order, by its workers, resumable after
a kill): each shard is a CF zarr store of its files' time range with that range's training-period statistics
(NaN where none of its steps is in the period); the driver merges the card's statistics exactly. Files must then
not overlap in time within a shard; an overlap between shards is not detected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import xarray as xr

from hfm.climate.contract import TIME_UNITS, check_grid, check_time_axis, check_variables, encode_times, field_contract
from hfm.climate.format import FORMAT_NAME, CFZarrWriter, dataset_to_sample
from hfm.climate.readers import open_fields
from hfm.shared.cards import DatasetCard
from hfm.shared.contracts import Sample
from hfm.shared.curate_driver import CuratedDataset, CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem, CurationSummary, rejected_item
from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.safety.inputs import InputFile
from hfm.shared.shard_curation import Sharding

# Missing steps are kept (window samplers skip gaps); these findings cannot be fixed, so they quarantine.
_FATAL_TIME = {"duplicate", "irregular", "empty"}
# The dataset's name where its owner gives none (`hfm climate curate --name`'s default).
DEFAULT_NAME = "climate-fields"


def _load_item(path: Path, variables: list[str] | None, reference: xr.Dataset | None) -> Sample:
    ds = open_fields(path, variables)
    ds = ds.sortby("time")  # times out of order are fixable; repeated ones are not
    axis = encode_times(ds["time"], TIME_UNITS)
    problems = [v for v in check_time_axis(axis) if v.code in _FATAL_TIME]
    problems += check_grid(ds, reference) + check_variables(ds, reference)
    if problems:
        raise InvalidInput("; ".join(str(p) for p in problems), field=problems[0].field, code=problems[0].code)
    return dataset_to_sample(ds, axis, path.name)


def _reference(paths: Sequence[Path], variables: list[str] | None) -> xr.Dataset:
    """The first readable file fixes the grid and the variables every other file must match."""
    errors = []
    for path in paths:
        try:
            return open_fields(path, variables)
        except InvalidInput as error:
            errors.append(f"{path.name}: {error.reason}")
    raise HFMError("no input file could be read: " + " | ".join(errors[:5]))


def curate_fields(
    paths: Sequence[str | Path], out_dir: str | Path, describe: DatasetDescription, **options: Any
) -> tuple[CurationSummary, DatasetCard]:
    """`curate_fields_dataset` of a whole run (no `sharding.part`): its summary and card."""
    if options.get("sharding", Sharding()).part is not None:
        raise HFMError("curate_fields merges a whole run; curate one part with curate_fields_dataset")
    done = curate_fields_dataset(paths, out_dir, describe, **options)
    assert done.summary is not None and done.card is not None  # a whole run is always merged
    return done.summary, done.card


def curate_fields_dataset(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    describe: DatasetDescription,
    *,
    variables: list[str] | None = None,
    train_start: str | None = None,
    train_end: str | None = None,
    max_nan_fraction: float = 0.5,
    show_progress: bool = True,
    rejected: Sequence[InputFile] = (),
    sharding: Sharding = Sharding(),
) -> CuratedDataset:
    """Curate gridded files into `out_dir/data.zarr` with statistics over [train_start, train_end] (inclusive);
    with `sharding.shard_size`, into one store per shard (see the module's note); with `sharding.part`, only that
    part's shards.

    `describe`: the owner's statement for the card; without a description, the card names the variables and grid.
    `rejected`: files of the input folders quarantined unread (unsupported format, symlink leading outside).
    """
    paths = sorted(Path(p) for p in paths)
    if not paths:
        raise HFMError("no input files given")
    reference = _reference(paths, variables)
    has_level = "level" in reference.dims
    grid = tuple(reference.sizes[d] for d in ("level", "lat", "lon") if d in reference.dims)
    contract = field_contract(len(reference.data_vars), grid, max_nan_fraction, has_level)
    chosen = variables or [str(v) for v in reference.data_vars]
    items = [CurationItem(key=p.name, sources=[p], load=lambda p=p: _load_item(p, chosen, reference)) for p in paths]
    items += [rejected_item(f.path.name, f.path, f.code or "unreadable", f.reason) for f in rejected]
    if not describe.description:
        grid_text = "x".join(map(str, grid))
        describe = replace(describe, description=f"{describe.name}: {', '.join(chosen)} on a {grid_text} grid")
    done = curate_dataset(
        items,
        out_dir,
        domain="climate",
        format=FORMAT_NAME,
        contract=contract,
        # deep-copied per shard
        writer=CFZarrWriter(train_start, train_end, title=describe.name, shard=bool(sharding.shard_size)),
        describe=describe,
        tool=CurationTool(
            command="hfm climate curate",
            distribution="hfm-climate",
            packages=("xarray", "zarr", "netCDF4", "cfgrib", "eccodes", "cftime", "numpy"),
            parameters={
                "variables": chosen,
                "train_start": train_start,
                "train_end": train_end,
                "max_nan_fraction": max_nan_fraction,
            },
        ),
        sources=[p for p in paths if p.is_file()],
        show_progress=show_progress,
        sharding=sharding,
    )
    if done.summary is not None and done.summary.written == 0:
        raise HFMError(f"every input was quarantined; see {Path(out_dir) / 'quarantine' / 'report.csv'}")
    return done
