"""PhaseNet's npz event windows (Zhu & Beroza 2019): one file per (event, station) with its analyst P and S sample.

Each `<NET>_<STA>_<YYYYMMDDhhmmssff>[_NN].npz` holds `data` (samples, 3) in the column order E, N, Z at 100 Hz,
`itp`/`its` (P and S onset sample) and `channels` (`EHE_EHN_EHZ`, or one code such as `EHZ` for a single-component
station, whose data then sit in the Z column and the others are zeros). `waveform.csv` beside the folder lists them.

The split is BY STATION (a hash of `network.station`), so no station of the dev split is seen in training: a picker
tuned on dev windows of stations it was trained on would look better than it is on a new network.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np

from hfm.seismic.contract import quality_violations
from hfm.seismic.format import WAVEFORM_ARRAY
from hfm.seismic.readers import component_of
from hfm.shared.contracts import Sample
from hfm.shared.curation import CurationItem
from hfm.shared.errors import HFMError, InvalidInput

NPZ_RATE = 100.0
_NPZ_COLUMNS = {"E": 0, "N": 1, "Z": 2}


def station_split(network: str, station: str, dev_fraction: float = 0.25, seed: int = 0) -> str:
    """train or dev from a hash of the station code: deterministic, independent of file order."""
    digest = hashlib.sha256(f"{seed}:station-split:{network}.{station}".encode()).digest()
    return "dev" if int.from_bytes(digest[:8], "big") / 2**64 < dev_fraction else "train"


def parse_name(path: Path) -> tuple[str, str, str]:
    """(network, station, UTC time text) from `NC_MEM_2017100709282692.npz`; InvalidInput when it does not parse."""
    parts = path.stem.split("_")
    if len(parts) < 3 or not parts[0] or not parts[1] or len(parts[2]) != 16 or not parts[2].isdigit():
        raise InvalidInput(
            f"{path.name}: file name is not <NET>_<STA>_<YYYYMMDDhhmmssff>.npz", field="station_code", code="name"
        )
    try:
        stamp = datetime.strptime(parts[2][:14], "%Y%m%d%H%M%S")
    except ValueError as error:
        raise InvalidInput(
            f"{path.name}: {parts[2]!r} is not a time ({error})", field="trace_start_time", code="name"
        ) from error
    return parts[0], parts[1], f"{stamp:%Y-%m-%dT%H:%M:%S}.{parts[2][14:]}0000Z"


def load_npz_window(path: Path, split: str | None = None, dev_fraction: float = 0.25, seed: int = 0) -> Sample:
    """One npz window as a ZNE Sample with SeisBench columns; InvalidInput names the field and reason."""
    network, station, time_text = parse_name(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = np.asarray(npz["data"], dtype=np.float64)
            itp, its = int(npz["itp"]), int(npz["its"])
            channels = str(npz["channels"])
    except (OSError, ValueError, KeyError) as error:
        raise InvalidInput(
            f"{path.name}: not a PhaseNet npz ({type(error).__name__}: {error})", field="file", code="unreadable"
        ) from error
    if data.ndim != 2 or data.shape[1] != 3:
        raise InvalidInput(
            f"{path.name}: data has shape {data.shape}, expected (samples, 3)", field="data", code="shape"
        )
    npts = data.shape[0]
    for name, sample in (("itp", itp), ("its", its)):
        if not 0 <= sample < npts:
            raise InvalidInput(f"{path.name}: {name}={sample} outside 0..{npts - 1}", field=name, code="pick_outside")
    codes = [c for c in channels.split("_") if c]
    components = "".join(c for c in "ZNE" if any(component_of(code) == c for code in codes))
    if not components:
        raise InvalidInput(
            f"{path.name}: channels {channels!r} name no Z/N/E component", field="channels", code="channels"
        )
    waveforms = np.zeros((3, npts), dtype=np.float32)
    for index, component in enumerate("ZNE"):
        if component in components:
            waveforms[index] = data[:, _NPZ_COLUMNS[component]]
    problems = quality_violations(waveforms, components)
    if problems:
        raise InvalidInput("; ".join(str(p) for p in problems), field=problems[0].field, code=problems[0].code)
    return Sample(
        arrays={WAVEFORM_ARRAY: waveforms},
        attrs={
            "station_network_code": network,
            "station_code": station,
            "station_location_code": "",
            "trace_channel": codes[0][:2],
            "trace_components": components,
            "trace_native_sampling_rate_hz": NPZ_RATE,
            # The time in the file name; the data set does not say whether it is the window start or the origin.
            "trace_start_time": time_text,
            "trace_sampling_rate_hz": NPZ_RATE,
            "trace_npts": npts,
            "trace_category": "earthquake",
            "trace_P_arrival_sample": itp,
            "trace_S_arrival_sample": its,
            "source_id": path.stem,
            "split": split or station_split(network, station, dev_fraction, seed),
        },
    )


def npz_curation_items(folder: str | Path, dev_fraction: float = 0.25, seed: int = 0) -> list[CurationItem]:
    """One curation item per npz file under `folder` (searched recursively), split by station into train/dev."""
    folder = Path(folder)
    files = sorted(folder.rglob("*.npz"))
    if not files:
        raise HFMError(f"{folder}: no PhaseNet .npz windows here")
    return [CurationItem(path.stem, [path], _bind(path, dev_fraction, seed)) for path in files]


def _bind(path: Path, dev_fraction: float, seed: int):
    return lambda: load_npz_window(path, None, dev_fraction, seed)
