"""Unlabelled windows from continuous records (day-long files) for self-supervised pretraining; gaps respected.

Each station's record is split at its gaps into contiguous segments; windows of `window_s` are cut from each
segment at a fixed stride (never across a gap), at most `max_windows` per record, spread evenly over the record.

Rate policy (the same as everywhere in hfm.seismic): the common rate is 100 Hz. A record above it is low-passed and
decimated (`readers.stream_to_array`). A record below it is brought onto the 100 Hz grid by band-limited
(polyphase) interpolation, which adds no energy above the record's own Nyquist frequency: a 40 Hz record keeps an
empty band from 20 to 50 Hz, it is not given invented high frequencies. Records below `min_native_rate_hz` (default
10 Hz, Nyquist 5 Hz: below that the P and S energy of local events is mostly gone) are quarantined with the reason
`sampling_rate`. Every window keeps its native rate in `trace_native_sampling_rate_hz`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from obspy import Stream, UTCDateTime
from scipy.signal import resample_poly

from hfm.seismic.readers import COMPONENT_ORDER, component_of, read_stream, stream_to_array, window_sample
from hfm.shared.contracts import Sample
from hfm.shared.curation import CurationItem
from hfm.shared.errors import HFMError, InvalidInput


@dataclass
class ContinuousConfig:
    sampling_rate: float = 100.0
    window_s: float = 30.0
    stride_s: float = 60.0  # windows start this far apart inside a segment
    max_windows: int = 256  # per record (station and file), evenly spread over the record
    min_native_rate_hz: float = 10.0
    split: str = "train"


def _upsampled(stream: Stream, rate: float) -> Stream:
    """Each contiguous trace brought up to `rate` by polyphase interpolation (no energy above its own Nyquist)."""
    out = Stream()
    for trace in stream.split():
        trace = trace.copy()
        native = trace.stats.sampling_rate
        if native < rate - 1e-6:
            up, down = round(rate * 1000), round(native * 1000)
            divisor = np.gcd(up, down)
            trace.data = resample_poly(trace.data.astype(np.float64), up // divisor, down // divisor)
            trace.stats.sampling_rate = rate
        out += trace
    return out


def _segments(stream: Stream) -> list[tuple[UTCDateTime, UTCDateTime]]:
    """Spans every component of the station covers without a gap."""
    per_component: dict[str, list[tuple[UTCDateTime, UTCDateTime]]] = defaultdict(list)
    for trace in stream.copy().merge(method=0).split():
        per_component[component_of(trace.stats.channel)].append((trace.stats.starttime, trace.stats.endtime))
    spans: list[tuple[UTCDateTime, UTCDateTime]] | None = None
    for pieces in per_component.values():
        if spans is None:
            spans = sorted(pieces)
            continue
        spans = [(max(a, c), min(b, d)) for a, b in spans for c, d in pieces if max(a, c) < min(b, d)]
    return sorted(spans or [])


def window_starts(segments: list[tuple[UTCDateTime, UTCDateTime]], config: ContinuousConfig) -> list[UTCDateTime]:
    """Window starts inside the segments at the configured stride, thinned evenly to at most `max_windows`."""
    starts = []
    for begin, end in segments:
        t = begin
        while t + config.window_s <= end:
            starts.append(t)
            t += config.stride_s
    if len(starts) > config.max_windows:
        keep = np.linspace(0, len(starts) - 1, config.max_windows).round().astype(int)
        starts = [starts[i] for i in np.unique(keep)]
    return starts


def _refuse(reason: str, code: str, field: str):
    def load() -> Sample:
        raise InvalidInput(reason, field=field, code=code)

    return load


def continuous_curation_items(folder: str | Path, config: ContinuousConfig | None = None) -> list[CurationItem]:
    """Every window of every record under `folder` (one record = one station in one file) as a curation item."""
    config = config or ContinuousConfig()
    folder = Path(folder)
    if not folder.is_dir():
        raise HFMError(f"{folder}: not a folder of continuous waveform files")
    items: list[CurationItem] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        try:
            stream = read_stream(path)
        except HFMError as error:
            items.append(CurationItem(f"unreadable/{path.name}", [path], _refuse(str(error), "unreadable", "file")))
            continue
        usable = Stream([t for t in stream if component_of(t.stats.channel) and t.stats.npts > 1])
        if not usable:
            reason = f"{path}: no Z/N/E channel"
            items.append(CurationItem(f"{path.name}/no-channel", [path], _refuse(reason, "no_waveforms", "channel")))
            continue
        for (network, station), traces in sorted(_by_station(usable).items()):
            record = f"{network}.{station}.{path.name}"
            native = max(t.stats.sampling_rate for t in traces)
            if native < config.min_native_rate_hz:
                reason = (
                    f"{path}: {network}.{station} recorded at {native:g} Hz, below {config.min_native_rate_hz:g} Hz "
                    "(Nyquist below the band of local P and S energy)"
                )
                items.append(CurationItem(record, [path], _refuse(reason, "sampling_rate", "trace_sampling_rate_hz")))
                continue
            prepared = _upsampled(Stream(traces), config.sampling_rate)
            starts = window_starts(_segments(prepared), config)
            if not starts:
                reason = f"{path}: {network}.{station} has no gap-free stretch of {config.window_s:g} s"
                items.append(CurationItem(record, [path], _refuse(reason, "too_short", "waveforms")))
                continue
            for start in starts:
                key = f"{record}.{start.strftime('%Y%m%dT%H%M%S')}"
                attrs = {
                    "station_network_code": network,
                    "station_code": station,
                    "source_id": f"continuous.{record}",
                    "split": config.split,
                    "trace_native_sampling_rate_hz": float(native),
                }
                items.append(CurationItem(key, [path], _bind(prepared, start, config, attrs, path)))
    return items


def _by_station(stream: Stream) -> dict[tuple[str, str], list]:
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for trace in stream:
        groups[(trace.stats.network, trace.stats.station)].append(trace)
    return groups


def _bind(stream: Stream, start: UTCDateTime, config: ContinuousConfig, attrs: dict, path: Path):
    def load() -> Sample:
        rate = config.sampling_rate
        npts = round(config.window_s * rate)
        grid = UTCDateTime(np.ceil(start.timestamp * rate - 1e-6) / rate)
        waveforms, components = stream_to_array(stream.slice(grid - 1, grid + config.window_s + 1), grid, npts, rate)
        unlabelled = {"trace_category": "unlabelled", "trace_P_arrival_sample": np.nan}
        unlabelled["trace_S_arrival_sample"] = np.nan
        return window_sample(waveforms, components, stream, grid, rate, attrs, unlabelled, where=f"{path.name}: ")

    return load


__all__ = ["COMPONENT_ORDER", "ContinuousConfig", "continuous_curation_items", "window_starts"]
