"""From a seismologist's own files to a SeisBench-format dataset: waveforms folder + pick catalogue -> windows.

Each (event, station) with picks gives one earthquake window (P at a seeded offset, S wherever it falls) and, where
the recordings reach back far enough, one noise window that ends before the P wave. Every window is an input: it is
either written or quarantined with its reasons (gap, too short, flat, clipped, sampling rate, no waveforms, NaN).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from obspy import Stream, UTCDateTime

from hfm.seismic.contract import metadata_contract, waveform_contract
from hfm.seismic.format import FORMAT_NAME, SeisBenchWriter
from hfm.seismic.readers import component_of, read_stream, stream_to_array, window_sample
from hfm.seismic.readers.catalogue import read_picks
from hfm.shared.contracts import Sample
from hfm.shared.curate_driver import CuratedDataset, CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem
from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.safety.inputs import list_inputs
from hfm.shared.shard_curation import Sharding

KEYWORDS = ["seismology", "phase picking", "SeisBench"]


@dataclass
class CurationConfig:
    sampling_rate: float = 100.0
    window_s: float = 30.0
    p_offset_s: tuple[float, float] = (3.0, 12.0)  # P lands at a seeded position in this range of the window
    noise_gap_s: float = 5.0  # a noise window ends this long before P
    noise_windows: bool = True
    min_components: int = 1
    split_fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train/dev/test, by event
    seed: int = 0


@dataclass
class _FileSpan:
    path: Path
    network: str
    station: str
    start: UTCDateTime
    end: UTCDateTime
    rates: tuple[float, ...]


def _unit(text: str, seed: int) -> float:
    """A deterministic number in [0, 1) from a name: splits and offsets do not depend on file order."""
    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(event_id: str, fractions: tuple[float, float, float], seed: int) -> str:
    u = _unit(f"split:{event_id}", seed)
    return "train" if u < fractions[0] else "dev" if u < fractions[0] + fractions[1] else "test"


def index_waveforms(folder: Path) -> tuple[list[_FileSpan], list[tuple[Path, str]]]:
    """Header of every file under `folder`: what station and time span it covers; unreadable files apart."""
    spans, unreadable = [], []
    for entry in list_inputs(folder, recursive=True):  # every file counts; symlinks leading outside are not read
        path = entry.path
        if path.name.startswith("."):
            continue
        if not entry.ok:
            unreadable.append((path, f"{entry.code}: {entry.reason}"))
            continue
        try:
            stream = read_stream(path, headonly=True)
        except HFMError as error:
            unreadable.append((path, str(error)))
            continue
        for (network, station), traces in _by_station(stream).items():
            spans.append(
                _FileSpan(
                    path=path,
                    network=network,
                    station=station,
                    start=min(t.stats.starttime for t in traces),
                    end=max(t.stats.endtime for t in traces),
                    rates=tuple(sorted({t.stats.sampling_rate for t in traces})),
                )
            )
    return spans, unreadable


def _by_station(stream: Stream) -> dict[tuple[str, str], list]:
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for trace in stream:
        groups[(trace.stats.network, trace.stats.station)].append(trace)
    return groups


def _read_window(spans: list[_FileSpan], start: UTCDateTime, end: UTCDateTime, network: str, station: str) -> Stream:
    stream = Stream()
    for span in spans:
        if span.end >= start and span.start <= end:
            part = read_stream(span.path, starttime=start - 1, endtime=end + 1)
            stream += part.select(network=network, station=station)
    return stream


def _window_loader(spans: list[_FileSpan], start: UTCDateTime, config: CurationConfig, attrs: dict[str, Any]) -> Sample:
    npts = round(config.window_s * config.sampling_rate)
    end = start + (npts - 1) / config.sampling_rate
    stream = _read_window(spans, start, end, attrs["station_network_code"], attrs["station_code"])
    usable = Stream([t for t in stream if component_of(t.stats.channel)])
    if not usable:
        raise InvalidInput("no Z/N/E channel covers the window", field="waveforms", code="no_waveforms")
    slow = sorted({t.stats.sampling_rate for t in usable if t.stats.sampling_rate < config.sampling_rate - 1e-6})
    if slow:
        raise InvalidInput(
            f"recorded at {slow[0]:g} Hz, below the target {config.sampling_rate:g} Hz (upsampling invents bandwidth)",
            field="trace_sampling_rate_hz",
            code="sampling_rate",
        )
    _refuse_non_finite(usable, start, end)  # NaN/inf in the recording itself, told apart from gaps (also NaN)
    waveforms, components = stream_to_array(usable, start, npts, config.sampling_rate)
    if len(components) < config.min_components:
        raise InvalidInput(
            f"{len(components)} component(s) {components!r}, at least {config.min_components} required",
            field="waveforms",
            code="components",
        )
    return window_sample(waveforms, components, usable, start, config.sampling_rate, attrs)


def _refuse_non_finite(stream: Stream, start: UTCDateTime, end: UTCDateTime) -> None:
    found = []
    for trace in stream:
        data = trace.slice(start, end).data
        if data.dtype.kind == "f" and not np.isfinite(data).all():
            found.append((trace.id, int(np.isnan(data).sum()), int(np.isinf(data).sum())))
    if found:
        detail = "; ".join(f"{tid}: {nan} NaN and {inf} inf samples" for tid, nan, inf in found)
        code = "nan" if any(nan for _, nan, _ in found) else "inf"
        raise InvalidInput(
            f"the recording holds non-finite values in the window ({detail})", field="waveforms", code=code
        )


def _missing(reason: str, code: str, field: str = "file"):
    def load() -> Sample:
        raise InvalidInput(reason, field=field, code=code)

    return load


def curation_items(waveform_dir: Path, catalogue: Path, config: CurationConfig) -> list[CurationItem]:
    picks = read_picks(catalogue)
    spans, unreadable = index_waveforms(waveform_dir)
    by_station: dict[tuple[str, str], list[_FileSpan]] = defaultdict(list)
    for span in spans:
        by_station[(span.network, span.station)].append(span)
    items = [
        CurationItem(key=f"unreadable/{path.name}", sources=[path], load=_missing(reason, "unreadable"))
        for path, reason in unreadable
    ]
    rate = config.sampling_rate
    for (event_id, network, station), group in picks.groupby(["event_id", "network", "station"], sort=True):
        first = group.iloc[0]
        p_times = [UTCDateTime(t) for t in group.loc[group["phase"] == "P", "time"]]
        s_times = [UTCDateTime(t) for t in group.loc[group["phase"] == "S", "time"]]
        anchor = p_times[0] if p_times else s_times[0]
        key = f"{event_id}.{network}.{station}"
        npts = round(config.window_s * rate)
        hi = min(config.p_offset_s[1], (npts - 1) / rate)  # P always inside its window, however short
        lo = min(config.p_offset_s[0], hi)
        offset = lo + (hi - lo) * _unit(key, config.seed)
        start = UTCDateTime(round((anchor - offset).timestamp * rate) / rate)  # on the sample grid
        source = {c: first[c] for c in first.index if c.startswith("source_") and pd.notna(first[c])}
        base = {
            "station_network_code": network,
            "station_code": station,
            "source_id": event_id,
            **source,
            "split": split_of(event_id, config.split_fractions, config.seed),
        }
        station_spans = by_station.get((network, station), [])
        if not station_spans:
            reason = f"no waveform file for station {network}.{station}"
            items.append(CurationItem(key, [], _missing(reason, "no_waveforms", "station_code")))
            continue
        length = config.window_s
        earthquake = {
            **base,
            "trace_category": "earthquake",
            "trace_P_arrival_sample": _inside(p_times, start, rate, npts),
            "trace_S_arrival_sample": _inside(s_times, start, rate, npts),
        }
        items.append(
            CurationItem(
                key, _overlapping(station_spans, start, length), _bind(station_spans, start, config, earthquake)
            )
        )
        if config.noise_windows:
            noise_start = UTCDateTime(round((anchor - config.noise_gap_s - length).timestamp * rate) / rate)
            # A noise window is derived, not an input: cut it only where one file covers it whole.
            if any(s.start <= noise_start and s.end >= noise_start + length for s in station_spans):
                noise = {
                    **base,
                    "trace_category": "noise",
                    "trace_P_arrival_sample": np.nan,
                    "trace_S_arrival_sample": np.nan,
                }
                sources = _overlapping(station_spans, noise_start, length)
                items.append(CurationItem(f"{key}.noise", sources, _bind(station_spans, noise_start, config, noise)))
    return items


def _inside(times: list[UTCDateTime], start: UTCDateTime, rate: float, npts: int) -> float:
    """The first pick's sample in the window; NaN when there is none or it falls outside the window."""
    if not times:
        return np.nan
    sample = round((times[0] - start) * rate)
    return sample if 0 <= sample < npts else np.nan


def _overlapping(spans: list[_FileSpan], start: UTCDateTime, length_s: float) -> list[Path]:
    return sorted({s.path for s in spans if s.end >= start and s.start <= start + length_s})


def _bind(spans: list[_FileSpan], start: UTCDateTime, config: CurationConfig, attrs: dict[str, Any]):
    return lambda: _window_loader(spans, start, config, attrs)


def curate_seisbench(
    waveform_dir: str | Path,
    catalogue: str | Path,
    out_dir: str | Path,
    config: CurationConfig,
    describe: DatasetDescription,
    show_progress: bool = True,
    sharding: Sharding = Sharding(),
) -> CuratedDataset:
    """Curate a waveform folder and its pick catalogue into a SeisBench-format dataset with its card."""
    waveform_dir, catalogue, out_dir = Path(waveform_dir), Path(catalogue), Path(out_dir)
    if not waveform_dir.is_dir():
        raise HFMError(f"{waveform_dir}: not a folder of waveform files")
    items = curation_items(waveform_dir, catalogue, config)
    if not describe.description:
        what = f"Windows of {config.window_s:g} s around picks from {catalogue.name}, SeisBench format"
        describe = replace(describe, description=what)
    return curate_items(
        items,
        out_dir,
        config.sampling_rate,
        describe,
        parameters={k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        extra_sources=[catalogue],
        show_progress=show_progress,
        sharding=sharding,
    )


SOURCES = ("catalogue", "nordic", "npz", "continuous")


def curate_source(
    source: str,
    raw: Path,
    catalogue: Path | None,
    out_dir: Path,
    config: CurationConfig,
    describe: DatasetDescription,
    show_progress: bool = True,
    sharding: Sharding = Sharding(),
) -> CuratedDataset:
    """`hfm seismic curate --source ...`: one of SOURCES into a SeisBench-format dataset."""
    if source == "catalogue":
        if catalogue is None:
            raise HFMError("--source catalogue needs --catalogue PICKS (QuakeML or CSV)")
        return curate_seisbench(raw, catalogue, out_dir, config, describe, show_progress, sharding)
    items = source_items(source, raw, catalogue, config.sampling_rate, config.window_s, config.seed)
    if not describe.description:
        describe = replace(describe, description=f"{source} records from {raw.name}, SeisBench format")
    parameters = {"source": source, "sampling_rate": config.sampling_rate, "window_s": config.window_s}
    parameters["seed"] = config.seed
    return curate_items(
        items, out_dir, config.sampling_rate, describe, parameters, show_progress=show_progress, sharding=sharding
    )


def source_items(
    source: str, waveforms: Path, catalogue: Path | None, rate: float, window_s: float, seed: int
) -> list[CurationItem]:
    """Curation items of the non-catalogue sources."""
    if source == "nordic":  # WAVEFORMS = the WAV folder, --catalogue = the REA folder of S-files
        from hfm.seismic.readers.nordic import nordic_curation_items

        if catalogue is None:
            raise HFMError("--source nordic needs the REA folder of S-files as --catalogue")
        return nordic_curation_items(catalogue, waveforms, rate)
    if source == "npz":
        from hfm.seismic.readers.phasenet_npz import NPZ_RATE, npz_curation_items

        if rate != NPZ_RATE:
            raise HFMError(f"--rate {rate:g}: PhaseNet npz windows are curated at their own {NPZ_RATE:g} Hz")
        return npz_curation_items(waveforms, seed=seed)
    if source == "continuous":
        from hfm.seismic.readers.continuous import ContinuousConfig, continuous_curation_items

        return continuous_curation_items(waveforms, ContinuousConfig(sampling_rate=rate, window_s=window_s))
    raise HFMError(f"--source {source!r}: one of {', '.join(SOURCES)}")


def curate_items(
    items: list[CurationItem],
    out_dir: str | Path,
    sampling_rate: float,
    describe: DatasetDescription,
    parameters: dict[str, Any],
    extra_sources: Sequence[Path] = (),
    show_progress: bool = True,
    sharding: Sharding = Sharding(),
) -> CuratedDataset:
    """Write or quarantine every item into a SeisBench-format dataset and write its card (the core driver).

    With `sharding.shard_size`, each shard is one small SeisBench dataset (metadata.csv + bucketed waveforms.hdf5)
    under `shards/`; its manifest lists its waveform files, so the card lists only `extra_sources` (the catalogue).
    """
    if "keywords" not in describe.extra:
        describe = replace(describe, extra={**describe.extra, "keywords": KEYWORDS})
    sources = set(map(Path, extra_sources))
    if sharding.shard_size is None:
        sources |= {Path(s) for item in items for s in item.sources}
    return curate_dataset(
        items,
        out_dir,
        domain="seismic",
        format=FORMAT_NAME,
        contract=waveform_contract(3),
        metadata_contract=metadata_contract(sampling_rate),
        writer=SeisBenchWriter(sampling_rate=sampling_rate),
        describe=describe,
        tool=CurationTool("hfm seismic curate", "hfm-seismic", ("obspy", "h5py", "numpy"), parameters),
        sources=sorted(sources),
        show_progress=show_progress,
        sharding=sharding,
    )
