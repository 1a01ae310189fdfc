"""Real records with onsets for the benchmark, all offline.

- `seisbench-dummy` (data catalogue): 100 IPOC traces at station CX.PB01 that start at the origin time. Their
  P and S onsets are THEORETICAL: first P and S arrivals of ObsPy's iasp91 model for the catalogue source depth and
  epicentral distance, not analyst picks; 1-D model errors of a second or more are expected at these distances.
- Tohoku 2011 at II.TLY (ObsPy's test data, 20 Hz vertical only): the analyst P pick from its SAC header
  (`a` = 301.506 s after the trace start, `ka` = 'P').
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import obspy
from obspy.geodetics import locations2degrees

from hfm.seismic.data.windows import LabelledWindows, resample
from hfm.seismic.format import SeisBenchDataset
from hfm.shared.errors import HFMError


@lru_cache(maxsize=1)
def _iasp91():
    from obspy.taup import TauPyModel

    return TauPyModel("iasp91")


def theoretical_onsets(depth_km: float, distance_deg: float) -> tuple[float, float]:
    """First P and first S travel times (s) of iasp91; NaN where a phase does not exist."""
    model = _iasp91()
    depth = max(float(depth_km), 0.0)
    arrivals = model.get_travel_times(depth, distance_deg, phase_list=["p", "P", "Pn", "s", "S", "Sn"])
    p = min((a.time for a in arrivals if a.name.upper().startswith("P")), default=np.nan)
    s = min((a.time for a in arrivals if a.name.upper().startswith("S")), default=np.nan)
    return p, s


def dummy_windows(root: str | Path, sampling_rate: float = 100.0, split: str | None = None) -> LabelledWindows:
    """The seisbench-dummy traces at `sampling_rate` with iasp91 P and S onsets (seconds after the origin)."""
    dataset = SeisBenchDataset(root)
    meta = dataset.metadata
    rows = range(len(dataset)) if split is None else np.flatnonzero(meta["split"].astype(str) == split)
    waves, p, s = [], [], []
    for row in rows:
        r = meta.iloc[row]
        distance = locations2degrees(
            r["source_latitude_deg"], r["source_longitude_deg"], r["station_latitude_deg"], r["station_longitude_deg"]
        )
        tp, ts = theoretical_onsets(r["source_depth_km"], distance)
        waves.append(resample(dataset.waveform(int(row)), dataset.sampling_rate(int(row)), sampling_rate))
        p.append(tp * sampling_rate)
        s.append(ts * sampling_rate)
    dataset.close()
    length = min(w.shape[-1] for w in waves)
    out = np.stack([w[:, :length] for w in waves]).astype(np.float32)
    p_arr, s_arr = np.array(p), np.array(s)
    p_arr[p_arr >= length], s_arr[s_arr >= length] = np.nan, np.nan
    return LabelledWindows(out, p_arr, s_arr, sampling_rate, "seisbench-dummy (iasp91 onsets)")


def tohoku_sac() -> Path:
    path = Path(obspy.__file__).parent / "realtime" / "tests" / "data" / "II.TLY.BHZ.SAC"
    if not path.is_file():
        raise HFMError(f"{path}: ObsPy's Tohoku test record is missing from this installation")
    return path


def tohoku_trace() -> tuple[obspy.Trace, obspy.UTCDateTime]:
    """The Tohoku vertical trace and the absolute time of its analyst P pick."""
    with warnings.catch_warnings():  # its header delta 0.050000161 s is rounded to 20 Hz, which is what it is
        warnings.filterwarnings("ignore", message="Sample spacing read from SAC file", category=UserWarning)
        trace = obspy.read(str(tohoku_sac()))[0]
    sac = trace.stats.sac
    if str(sac.get("ka", "")).strip() != "P":
        raise HFMError(f"{tohoku_sac()}: SAC header ka is {sac.get('ka')!r}, expected the analyst P pick")
    pick = trace.stats.starttime + float(sac["a"]) - float(sac.get("b", 0.0))
    return trace, pick


def tohoku_window(sampling_rate: float = 100.0, samples: int = 3000, p_offset_s: float = 11.3) -> LabelledWindows:
    """One window of `samples` around the analyst P pick, vertical only (N and E are zeros, as for 1-C stations)."""
    trace, pick = tohoku_trace()
    start = pick - p_offset_s
    vertical = trace.copy().trim(start - 10, start + samples / sampling_rate + 10).data.astype(np.float64)
    rate = trace.stats.sampling_rate
    offset = round((start - (trace.stats.starttime if trace.stats.starttime > start - 10 else start - 10)) * rate)
    up = resample(vertical[None, :], rate, sampling_rate)[0]
    first = round(offset * sampling_rate / rate)
    window = np.zeros((1, 3, samples), dtype=np.float32)
    window[0, 0] = up[first : first + samples]
    return LabelledWindows(
        window,
        np.array([p_offset_s * sampling_rate]),
        np.array([np.nan]),
        sampling_rate,
        "Tohoku 2011, II.TLY BHZ (analyst P)",
    )
