"""Reading waveforms: every format ObsPy reads, harmonised into (component, time) arrays in ZNE order.

ObsPy detects the format (miniSEED, SAC, GSE2, SEISAN, SEG-Y, WAV, ...); we only decide which channels make the Z,
N and E components, resample to one target rate and mark gaps as NaN so curation can quarantine them with a reason.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import obspy
from obspy import Stream, UTCDateTime

from hfm.seismic.contract import quality_violations
from hfm.seismic.format import WAVEFORM_ARRAY
from hfm.shared.contracts import Sample
from hfm.shared.errors import HFMError, InvalidInput

COMPONENT_ORDER = "ZNE"
# Orientation codes that stand in for Z/N/E on stations not aligned north (SEED: 1/2/3 are orthogonal horizontals).
_ORIENTATION_ALIASES = {"Z": "Z", "3": "Z", "N": "N", "1": "N", "E": "E", "2": "E"}


def obspy_formats() -> list[str]:
    """Waveform formats the installed ObsPy reads (the names `obspy.read(format=...)` accepts)."""
    from obspy.core.util.base import ENTRY_POINTS

    return sorted(ENTRY_POINTS["waveform"])


def read_stream(path: str | Path, headonly: bool = False, **kwargs) -> Stream:
    """Read any waveform file ObsPy knows; the error names the file and the reason."""
    path = Path(path)
    if not path.is_file():
        raise HFMError(f"{path}: no such waveform file")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            stream = obspy.read(str(path), headonly=headonly, **kwargs)
    except Exception as error:  # ObsPy raises TypeError/ValueError/... per format
        raise HFMError(f"{path}: not a waveform file ObsPy can read ({type(error).__name__}: {error})") from error
    for warning in caught:
        text = str(warning.message)
        if "Unexpected end of file" in text:  # libmseed stops at a cut record and keeps what came before it
            raise HFMError(f"{path}: truncated miniSEED ({text.strip()})")
        warnings.warn(warning.message, warning.category, stacklevel=2)
    return stream


def component_of(channel: str) -> str | None:
    """Z, N or E for a SEED channel code (hydrophones, pressure and other channels give None)."""
    return _ORIENTATION_ALIASES.get(channel[-1:].upper()) if channel else None


def _resampled(stream: Stream, sampling_rate: float) -> Stream:
    """Each contiguous piece brought to `sampling_rate` (low-pass before decimation so nothing aliases)."""
    out = Stream()
    for trace in stream.copy().split():  # split: gaps would break the filters
        trace.data = trace.data.astype(np.float64)
        rate = trace.stats.sampling_rate
        if not np.isclose(rate, sampling_rate):
            if trace.stats.npts < 2:
                continue
            if rate > sampling_rate:
                trace.filter("lowpass", freq=0.45 * sampling_rate, corners=4, zerophase=True)
            trace.interpolate(sampling_rate, method="lanczos", a=12)
        out += trace
    return out


def stream_to_array(
    stream: Stream,
    start: UTCDateTime,
    npts: int,
    sampling_rate: float,
) -> tuple[np.ndarray, str]:
    """A (3, npts) float32 array in ZNE order starting at `start`, and the components present (e.g. "ZNE", "Z").

    Missing components are zeros (the SeisBench convention); gaps and parts outside the data are NaN.
    """
    out = np.zeros((3, npts), dtype=np.float32)
    present = ""
    step = 1.0 / sampling_rate
    for index, component in enumerate(COMPONENT_ORDER):
        traces = Stream([t for t in stream if component_of(t.stats.channel) == component])
        if not traces:
            continue
        # Several instruments at one site (e.g. HHZ and BHZ): keep the highest-rate one, not a mix of both.
        best = max(traces, key=lambda t: (t.stats.sampling_rate, t.id))
        traces = Stream([t for t in traces if t.id == best.id])
        present += component
        column = np.full(npts, np.nan, dtype=np.float64)
        for trace in _resampled(traces, sampling_rate):
            offset = round((trace.stats.starttime - start) / step)
            lo, hi = max(offset, 0), min(offset + trace.stats.npts, npts)
            if hi > lo:
                column[lo:hi] = trace.data[lo - offset : hi - offset]
        out[index] = column
    return out, present


def window_sample(
    waveforms: np.ndarray,
    components: str,
    traces: Stream,
    start: UTCDateTime,
    rate: float,
    attrs: dict,
    tail: dict | None = None,
    where: str = "",
) -> Sample:
    """A harmonised window as a curation sample: the waveform checks first (the first problem's field and code, every
    problem in the reason), then SeisBench's trace columns from the highest-rate trace, between `attrs` and `tail`."""
    problems = quality_violations(waveforms, components)
    if problems:
        reason = where + "; ".join(str(p) for p in problems)
        raise InvalidInput(reason, field=problems[0].field, code=problems[0].code)
    best = max(traces, key=lambda t: t.stats.sampling_rate)
    columns = {
        **attrs,
        "station_location_code": best.stats.location,
        "trace_channel": best.stats.channel[:2],
        "trace_components": components,
        "trace_start_time": str(start),
        "trace_sampling_rate_hz": rate,
        "trace_npts": waveforms.shape[-1],
    }
    return Sample(arrays={WAVEFORM_ARRAY: waveforms}, attrs={**columns, **(tail or {})})
