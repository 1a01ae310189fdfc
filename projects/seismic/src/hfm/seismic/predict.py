"""Annotate continuous data of any length: sliding windows with overlap, stitched probabilities, picks with times.

- Each station's traces are merged per component and brought to the model's rate; gaps stay gaps: the stream is cut
  into its contiguous segments (all components together) and each segment is annotated on its own, so no window
  ever sees zero-filled or interpolated data across a gap.
- A segment shorter than one window is zero-padded at its end and the output cropped back to its length.
- Windows overlap by `overlap` (fraction); where they overlap, probabilities are averaged with a taper that trusts
  window centres more than window edges, then picks are the peaks above each phase's threshold, at least
  `min_separation_s` apart.
Windows are batched, so a day of 100 Hz data is a few thousand forward passes in batches, not a Python loop per sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from obspy import Stream, Trace, UTCDateTime
from scipy.signal import find_peaks

from hfm.seismic.readers import COMPONENT_ORDER, component_of, stream_to_array
from hfm.shared.errors import HFMError


@dataclass
class AnnotateConfig:
    window: int = 1000  # samples per model input
    overlap: float = 0.5
    sampling_rate: float = 100.0
    p_threshold: float = 0.3
    s_threshold: float = 0.3
    min_separation_s: float = 1.0
    batch_size: int = 64


def _segments(stream: Stream, rate: float) -> list[tuple[UTCDateTime, int]]:
    """Contiguous spans covered by at least one component: (start on the sample grid, samples)."""
    spans = sorted((t.stats.starttime, t.stats.endtime) for t in stream.copy().merge(method=0).split())
    merged: list[list[UTCDateTime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1] + 1.5 / rate:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, round((end - start) * rate) + 1) for start, end in merged]


def _taper(window: int) -> np.ndarray:
    weights = np.hanning(window + 2)[1:-1]
    return np.maximum(weights, 1e-3)


@torch.no_grad()
def annotate_array(model: torch.nn.Module, data: np.ndarray, config: AnnotateConfig) -> np.ndarray:
    """(3, N) -> (4, N) probabilities P, S, noise, detection for one contiguous segment of any length N >= 1."""
    length = data.shape[-1]
    window = config.window
    step = max(1, int(window * (1 - config.overlap)))
    starts = list(range(0, max(length - window, 0) + 1, step))
    if starts[-1] + window < length:
        starts.append(length - window)  # the last window ends exactly at the end of the data
    padded = np.zeros((3, max(length, window)), dtype=np.float32)
    padded[:, :length] = np.nan_to_num(data)
    total = np.zeros((4, padded.shape[-1]))
    weight = np.zeros(padded.shape[-1])
    taper = _taper(window) if len(starts) > 1 else np.ones(window)
    model.eval()
    for first in range(0, len(starts), config.batch_size):
        chunk = starts[first : first + config.batch_size]
        batch = torch.from_numpy(np.stack([padded[:, s : s + window] for s in chunk]))
        logits = model(batch)
        probs = torch.cat([logits[:, :3].softmax(dim=1), logits[:, 3:].sigmoid()], dim=1).numpy()
        for s, p in zip(chunk, probs, strict=True):
            total[:, s : s + window] += p * taper
            weight[s : s + window] += taper
    return (total / weight)[:, :length]


def picks_from_probabilities(probs: np.ndarray, start: UTCDateTime, config: AnnotateConfig) -> list[dict]:
    rate = config.sampling_rate
    distance = max(1, int(config.min_separation_s * rate))
    picks = []
    for row, phase, threshold in ((0, "P", config.p_threshold), (1, "S", config.s_threshold)):
        peaks, props = find_peaks(probs[row], height=threshold, distance=distance)
        for index, height in zip(peaks, props["peak_heights"], strict=True):
            picks.append({"phase": phase, "time": start + index / rate, "probability": float(height)})
    return picks


def annotate(
    model: torch.nn.Module, stream: Stream, config: AnnotateConfig | None = None
) -> tuple[Stream, pd.DataFrame]:
    """Probability traces (channels `<band>_P`, `_S`, `_N`, `_D` per station and segment) and a pick table.

    Pick table columns: network, station, location, channel, phase, time (UTC ISO 8601), probability.
    """
    config = config or AnnotateConfig()
    usable = Stream([t for t in stream if component_of(t.stats.channel) and t.stats.npts > 0])
    if not usable:
        raise HFMError("stream has no Z/N/E channel to annotate")
    outputs, rows = Stream(), []
    stations = sorted({(t.stats.network, t.stats.station, t.stats.location) for t in usable})
    for network, station, location in stations:
        traces = usable.select(network=network, station=station, location=location)
        for start, samples in _segments(traces, config.sampling_rate):
            grid_start = UTCDateTime(round(start.timestamp * config.sampling_rate) / config.sampling_rate)
            data, _ = stream_to_array(traces, grid_start, samples, config.sampling_rate)
            probs = annotate_array(model, data, config)
            for row, code in enumerate("PSND"):
                header = {
                    "network": network,
                    "station": station,
                    "location": location,
                    "channel": f"ML{code}",
                    "starttime": grid_start,
                    "sampling_rate": config.sampling_rate,
                }
                outputs += Trace(data=probs[row].astype(np.float32), header=header)
            for pick in picks_from_probabilities(probs, grid_start, config):
                rows.append(
                    {
                        "network": network,
                        "station": station,
                        "location": location,
                        "channel": _pick_channel(traces, pick["phase"]),
                        **pick,
                        "time": str(pick["time"]),
                    }
                )
    columns = ["network", "station", "location", "channel", "phase", "time", "probability"]
    table = pd.DataFrame(rows, columns=columns)
    return outputs, table.sort_values(["time", "station", "phase"], kind="stable").reset_index(drop=True)


def _pick_channel(traces: Stream, phase: str) -> str:
    """The SEED channel a pick is read on, as analysts do: P on the vertical, S on a horizontal when there is one."""
    by_component = {component_of(t.stats.channel): t.stats.channel for t in traces}
    for component in ("Z", "N", "E") if phase == "P" else ("N", "E", "Z"):
        if component in by_component:
            return by_component[component]
    return traces[0].stats.channel


__all__ = ["COMPONENT_ORDER", "AnnotateConfig", "annotate", "annotate_array", "picks_from_probabilities"]
