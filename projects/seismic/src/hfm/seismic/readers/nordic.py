"""SEISAN archives: Nordic S-files with analyst picks, each naming its multiplexed miniSEED WAV file, as event records.

A SEISAN database keeps one S-file per event under `REA/<base>/` (`obspy.read_events(path, format="NORDIC")`) and
the waveforms it names under `WAV/<base>/` (often also in `YYYY/MM/` sub-folders, so a file name may appear twice).
Each (event, station with a P or S pick) becomes one whole-record window: every sample the WAV file holds for the
station, brought to the common rate, with the analyst's first P and first S onset as SeisBench sample columns
(weight-4 picks, which the analyst marked as not to be used, are left out). The event is the SEISAN ID of the
S-file's type-I line (`ID:20130905020816`), which ObsPy's reader does not keep: one archive may hold several
S-files (readings, each naming its own WAV cut) of one event, and a station of that event is one record, not one
per reading. Each record is either written or quarantined with its reason:

- `missing_wav`: the S-file names no WAV file, or one that is not in the archive;
- `unknown_station`: the S-file picks a station that its WAV file does not hold;
- `pick_outside`: a pick lies before the first or after the last sample of the station's record;
- `gap`, `clipped`, `flat`, `too_short`: the waveform checks of `hfm.seismic.contract`;
- `duplicate`: a station that an earlier S-file of the same event (another reading, or the copy SEISAN keeps under
  `YYYY/MM/`) already gave, with picks that agree within `CONFLICT_S`;
- `conflicting_picks`: readings of one event that disagree by more than `CONFLICT_S` on a station's first P or S
  (every reading of that station is quarantined: the reference there is ambiguous).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import obspy
from obspy import Stream, UTCDateTime

from hfm.seismic.contract import quality_violations
from hfm.seismic.format import WAVEFORM_ARRAY
from hfm.seismic.readers import component_of, read_stream, stream_to_array
from hfm.shared.contracts import Sample
from hfm.shared.curation import CurationItem
from hfm.shared.errors import HFMError, InvalidInput

# Two readings further apart than the tightest tolerance the picking benchmark scores (0.1 s) cannot both be right.
CONFLICT_S = 0.1
UNUSED_WEIGHT = "4"  # SEISAN: weight 4 = the analyst's "do not use"


@dataclass
class AnalystPick:
    station: str
    phase: str  # P or S
    time: UTCDateTime
    weight: str  # Nordic weight 0-4 ("" when none is given); 4 means "not used in the location"
    component: str = ""  # the orientation code the analyst read it on (Z, N, E, 1, 2, 3; "" when not given)


@dataclass
class NordicEvent:
    event_id: str
    sfile: Path
    wav_names: list[str]
    origin_time: UTCDateTime | None
    latitude: float | None = None
    longitude: float | None = None
    depth_km: float | None = None
    magnitude: float | None = None
    picks: list[AnalystPick] = field(default_factory=list)

    def first_picks(self) -> dict[str, dict[str, UTCDateTime]]:
        """station -> {"P": time, "S": time}: the earliest usable pick of each phase (later ones are re-readings).

        Weight-4 picks are left out: SEISAN's "not used", which the analyst gives a reading they do not trust.
        """
        out: dict[str, dict[str, UTCDateTime]] = {}
        for pick in sorted(self.picks, key=lambda p: p.time):
            if pick.weight == UNUSED_WEIGHT:
                continue
            out.setdefault(pick.station, {}).setdefault(pick.phase, pick.time)
        return out

    def picked_components(self, station: str) -> set[str]:
        """The orientation codes of the station's usable P and S picks (which sensor the analyst read)."""
        return {p.component for p in self.picks if p.station == station and p.weight != UNUSED_WEIGHT and p.component}


def read_sfile(path: str | Path) -> NordicEvent:
    """One Nordic S-file: the event, its P and S picks (Pg, Pn, ... count as P; amplitudes are left out)."""
    from obspy.io.nordic.core import readwavename

    path = Path(path)
    try:
        catalogue = obspy.read_events(str(path), format="NORDIC")
        wav_names = readwavename(str(path))
    except Exception as error:  # ObsPy raises NordicParsingError, ValueError, ... per defect
        raise HFMError(f"{path}: not a Nordic S-file ObsPy can read ({type(error).__name__}: {error})") from error
    if len(catalogue) != 1:
        raise HFMError(f"{path}: {len(catalogue)} events in one S-file, expected 1")
    event = catalogue[0]
    origin = event.preferred_origin() or (event.origins[0] if event.origins else None)
    magnitude = event.preferred_magnitude() or (event.magnitudes[0] if event.magnitudes else None)
    picks = []
    for pick in event.picks:
        phase = (pick.phase_hint or "").strip().upper()[:1]
        if phase not in ("P", "S"):
            continue
        extra = pick.get("extra") or {}
        weight = str(extra.get("nordic_pick_weight", {}).get("value", ""))
        component = (pick.waveform_id.channel_code or "")[-1:].upper()
        picks.append(AnalystPick(pick.waveform_id.station_code, phase, pick.time, weight, component))
    event_id = seisan_id(path) or path.name
    return NordicEvent(
        event_id=event_id,
        sfile=path,
        wav_names=list(wav_names),
        origin_time=origin.time if origin else None,
        latitude=origin.latitude if origin else None,
        longitude=origin.longitude if origin else None,
        depth_km=origin.depth / 1000 if origin and origin.depth is not None else None,
        magnitude=magnitude.mag if magnitude else None,
        picks=picks,
    )


def seisan_id(path: str | Path) -> str | None:
    """The event ID of an S-file's type-I line (`ACTION:... ID:20130901041117  I`), None when it has none.

    ObsPy's NORDIC reader drops this line, and the file name (day-hour-minute-second) differs between two readings of
    one event, so the ID is the only name they share.
    """
    for line in Path(path).read_text(errors="replace").splitlines():
        if len(line) >= 80 and line[79] == "I" and "ID:" in line:
            digits = line.split("ID:", 1)[1][:14]
            if digits.isdigit():
                return digits
    return None


@functools.lru_cache(maxsize=4)
def _read_wav(path: Path) -> Stream:
    return read_stream(path)


def record_sample(
    stream: Stream, onsets: dict[str, UTCDateTime], attrs: dict, sampling_rate: float, source: str
) -> Sample:
    """The whole record of one station at `sampling_rate` with onset sample columns; InvalidInput when unusable."""
    usable = Stream([t for t in stream if component_of(t.stats.channel)])
    if not usable:
        raise InvalidInput(f"{source}: no Z/N/E channel for the station", field="waveforms", code="no_waveforms")
    start = max(t.stats.starttime for t in usable)
    end = min(t.stats.endtime for t in usable)
    npts = int(np.floor((end - start) * sampling_rate + 1e-6))  # whole samples every component covers
    if npts < sampling_rate:
        raise InvalidInput(
            f"{source}: components overlap {end - start:.2f} s only", field="waveforms", code="too_short"
        )
    columns = {}
    for phase in ("P", "S"):
        if phase in onsets:
            sample = round((onsets[phase] - start) * sampling_rate)
            if not 0 <= sample < npts:
                raise InvalidInput(
                    f"{source}: {phase} pick at {onsets[phase]} lies outside the record {start} - {end}",
                    field=f"trace_{phase}_arrival_sample",
                    code="pick_outside",
                )
            columns[f"trace_{phase}_arrival_sample"] = sample
        else:
            columns[f"trace_{phase}_arrival_sample"] = np.nan
    waveforms, components = stream_to_array(usable, start, npts, sampling_rate)
    problems = quality_violations(waveforms, components)
    if problems:
        raise InvalidInput("; ".join(str(p) for p in problems), field=problems[0].field, code=problems[0].code)
    best = max(usable, key=lambda t: t.stats.sampling_rate)
    return Sample(
        arrays={WAVEFORM_ARRAY: waveforms},
        attrs={
            **attrs,
            **columns,
            "station_network_code": best.stats.network,
            "station_location_code": best.stats.location,
            "trace_channel": best.stats.channel[:2],
            "trace_components": components,
            "trace_native_sampling_rate_hz": float(best.stats.sampling_rate),
            "trace_start_time": str(start),
            "trace_sampling_rate_hz": sampling_rate,
            "trace_npts": npts,
            "trace_category": "earthquake",
        },
    )


def _refuse(reason: str, code: str, field: str):
    def load() -> Sample:
        raise InvalidInput(reason, field=field, code=code)

    return load


def nordic_curation_items(
    rea_dir: str | Path, wav_dir: str | Path, sampling_rate: float = 100.0, split: str = "test"
) -> list[CurationItem]:
    """One curation item per (S-file, picked station), keyed `<S-file name>.<station>`; an S-file that cannot be used
    is one quarantined item. Of one event's readings of a station only the first S-file's is written, and none where
    the readings disagree (`duplicate`, `conflicting_picks`)."""
    rea_dir, wav_dir = Path(rea_dir), Path(wav_dir)
    if not rea_dir.is_dir():
        raise HFMError(f"{rea_dir}: not a folder of Nordic S-files")
    wavs: dict[str, Path] = {}
    for path in sorted(p for p in wav_dir.rglob("*") if p.is_file()):
        wavs.setdefault(path.name, path)  # the same file in WAV/<base>/ and WAV/<base>/YYYY/MM/
    items: list[CurationItem] = []
    readings: dict[tuple[str, str], list[tuple[NordicEvent, dict, list[Path]]]] = {}
    for sfile in sorted(p for p in rea_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            event = read_sfile(sfile)
        except HFMError as error:
            items.append(CurationItem(f"unreadable/{sfile.name}", [sfile], _refuse(str(error), "unreadable", "file")))
            continue
        found = [wavs[name] for name in event.wav_names if name in wavs]
        if not found:
            reason = f"{sfile}: names WAV file(s) {event.wav_names or 'none'}, not found under {wav_dir}"
            items.append(CurationItem(f"{sfile.name}/missing-wav", [sfile], _refuse(reason, "missing_wav", "wav")))
            continue
        for station, onsets in sorted(event.first_picks().items()):
            readings.setdefault((event.event_id, station), []).append((event, onsets, found))
    for (_, station), group in readings.items():
        first, onsets, found = group[0]
        conflict = _conflict(group)
        for number, (event, _, wavs_of) in enumerate(group):
            key = f"{event.sfile.name}.{station}"
            sources = [event.sfile, *wavs_of]
            if conflict:
                items.append(CurationItem(key, sources, _refuse(conflict, "conflicting_picks", "station_code")))
            elif number:
                reason = (
                    f"{event.sfile}: station {station} of event {event.event_id} already read in {first.sfile.name}"
                )
                items.append(CurationItem(key, sources, _refuse(reason, "duplicate", "station_code")))
            else:
                attrs = {**_source_attrs(event, split), "station_code": station}
                sensor = frozenset(event.picked_components(station))
                load = _bind(found, station, onsets, attrs, sampling_rate, event.sfile, sensor)
                items.append(CurationItem(key, sources, load))
    return items


def _source_attrs(event: NordicEvent, split: str) -> dict:
    source = {
        "source_id": event.event_id,
        "source_origin_time": str(event.origin_time) if event.origin_time else None,
        "source_latitude_deg": event.latitude,
        "source_longitude_deg": event.longitude,
        "source_depth_km": event.depth_km,
        "source_magnitude": event.magnitude,
        "split": split,
    }
    return {k: v for k, v in source.items() if v is not None}


def _conflict(group: list[tuple[NordicEvent, dict, list[Path]]]) -> str | None:
    """Why the readings of one station disagree (a first P or S further apart than CONFLICT_S), or None."""
    for phase in ("P", "S"):
        times = {event.sfile.name: onsets[phase] for event, onsets, _ in group if phase in onsets}  # YYYY/MM copies
        if len(times) > 1 and max(times.values()) - min(times.values()) > CONFLICT_S:
            listed = ", ".join(f"{name} {time}" for name, time in times.items())
            return f"readings of one event disagree by more than {CONFLICT_S} s on the first {phase}: {listed}"
    return None


def picked_sensor(stream: Stream, components: set[str] | frozenset[str]) -> Stream:
    """Where a station holds two sensors told apart only by their orientation codes (DFDP's FRAN: SHZ/SHN/SHE and
    SH3/SH1/SH2, which both map to ZNE), the traces of the sensor whose codes the analyst's picks name.

    Without this the record takes whichever sorts last (SHZ over SH3), at FRAN the set without the event in it.
    A station with one sensor (GCSZ: EHZ, EH1, EH2) or picks that name neither or both sets is left as it is.
    """
    numeric = Stream([t for t in stream if t.stats.channel[-1:] in "123"])
    lettered = Stream([t for t in stream if t.stats.channel[-1:].upper() in "ZNE"])
    given_twice = {component_of(t.stats.channel) for t in numeric} & {component_of(t.stats.channel) for t in lettered}
    if not given_twice:
        return stream
    in_numeric = bool(components) and components <= {t.stats.channel[-1:] for t in numeric}
    in_lettered = bool(components) and components <= {t.stats.channel[-1:].upper() for t in lettered}
    if in_numeric != in_lettered:
        return numeric if in_numeric else lettered
    return stream


def _bind(
    wavs: list[Path],
    station: str,
    onsets: dict,
    attrs: dict,
    rate: float,
    sfile: Path,
    components: frozenset[str] = frozenset(),
):
    def load() -> Sample:
        stream = Stream()
        for path in wavs:
            stream += _read_wav(path).select(station=station)
        if not len(stream):
            names = ", ".join(p.name for p in wavs)
            raise InvalidInput(
                f"{sfile.name}: station {station} is picked but not in {names}",
                field="station_code",
                code="unknown_station",
            )
        stream = picked_sensor(stream, components)
        return record_sample(stream, onsets, attrs, rate, f"{sfile.name} {station}")

    return load
