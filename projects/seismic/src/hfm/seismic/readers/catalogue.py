"""Pick catalogues: QuakeML (any ObsPy event format) or a CSV, read into one table of picks.

CSV columns: `event_id`, `network`, `station`, `phase` (P or S), `time` (UTC, ISO 8601; held as POSIX seconds);
optional `location`, `source_latitude_deg`, `source_longitude_deg`, `source_depth_km`, `source_magnitude`,
`source_origin_time`.
"""

from __future__ import annotations

from pathlib import Path

import obspy
import pandas as pd
from obspy import UTCDateTime

from hfm.shared.errors import HFMError
from hfm.shared.safety.text import check_utf8_text

PICK_COLUMNS = ["event_id", "network", "station", "location", "phase", "time"]
SOURCE_COLUMNS = [
    "source_origin_time",
    "source_latitude_deg",
    "source_longitude_deg",
    "source_depth_km",
    "source_magnitude",
]
_REQUIRED_CSV = ["event_id", "network", "station", "phase", "time"]


def read_picks(path: str | Path) -> pd.DataFrame:
    """One row per P or S pick, sorted by event, station and time; other phases are left out."""
    path = Path(path)
    if not path.is_file():
        raise HFMError(f"{path}: no such pick catalogue")
    table = _read_csv(path) if path.suffix.lower() in {".csv", ".tsv"} else _read_events(path)
    table["phase"] = table["phase"].astype(str).str.strip().str.upper().str[:1]
    table = table[table["phase"].isin(["P", "S"])]
    return table.sort_values(["event_id", "network", "station", "time"], kind="stable").reset_index(drop=True)


def _read_csv(path: Path) -> pd.DataFrame:
    check_utf8_text(path)  # a Latin-1 catalogue is refused naming the file, not with a bare codec error
    table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",", dtype={"location": str})
    missing = [c for c in _REQUIRED_CSV if c not in table.columns]
    if missing:
        raise HFMError(
            f"{path}: pick catalogue lacks column(s) {', '.join(missing)} (needs {', '.join(_REQUIRED_CSV)})"
        )
    table["location"] = table.get("location", pd.Series("", index=table.index)).fillna("")
    for column in SOURCE_COLUMNS:
        if column not in table.columns:
            table[column] = None
    times = []
    for row, value in enumerate(table["time"]):
        try:
            times.append(UTCDateTime(str(value)).timestamp)
        except Exception as error:
            raise HFMError(f"{path}: row {row + 2}, field time: {value!r} is not a UTC time ({error})") from error
    table["time"] = times
    table["event_id"] = table["event_id"].astype(str)
    table["network"] = table["network"].astype(str)
    table["station"] = table["station"].astype(str)
    return table[PICK_COLUMNS + SOURCE_COLUMNS]


def _read_events(path: Path) -> pd.DataFrame:
    try:
        catalog = obspy.read_events(str(path))
    except Exception as error:
        raise HFMError(f"{path}: not a pick catalogue ObsPy can read ({type(error).__name__}: {error})") from error
    rows = []
    for number, event in enumerate(catalog):
        origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
        magnitude = event.preferred_magnitude() or (event.magnitudes[0] if event.magnitudes else None)
        event_id = str(event.resource_id.id).rsplit("/", 1)[-1] if event.resource_id else f"event{number}"
        source = {
            "source_origin_time": str(origin.time) if origin else None,
            "source_latitude_deg": origin.latitude if origin else None,
            "source_longitude_deg": origin.longitude if origin else None,
            "source_depth_km": origin.depth / 1000 if origin and origin.depth is not None else None,
            "source_magnitude": magnitude.mag if magnitude else None,
        }
        for pick in event.picks:
            wid = pick.waveform_id
            if wid is None or not wid.station_code:
                continue
            rows.append(
                {
                    "event_id": event_id,
                    "network": wid.network_code or "",
                    "station": wid.station_code,
                    "location": wid.location_code or "",
                    "phase": pick.phase_hint or "",
                    "time": pick.time.timestamp,
                    **source,
                }
            )
    return pd.DataFrame(rows, columns=PICK_COLUMNS + SOURCE_COLUMNS)


def write_quakeml(picks: pd.DataFrame, path: str | Path) -> Path:
    """Picks (columns network, station, location, channel, phase, time, probability) as a QuakeML event."""
    from obspy.core.event import Catalog, Comment, Event, Pick, WaveformStreamID

    event = Event()
    for row in picks.itertuples():
        pick = Pick(
            time=UTCDateTime(str(row.time)),
            phase_hint=str(row.phase),
            waveform_id=WaveformStreamID(
                network_code=str(row.network),
                station_code=str(row.station),
                location_code=str(row.location or ""),
                channel_code=str(getattr(row, "channel", "") or "") or None,
            ),
            evaluation_mode="automatic",
        )
        pick.comments.append(Comment(text=f"hfm probability={float(row.probability):.3f}"))
        event.picks.append(pick)
    Catalog([event]).write(str(path), format="QUAKEML")
    return Path(path)
