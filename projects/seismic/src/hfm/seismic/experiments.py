"""The window-level comparison the quickstart and `hfm seismic evaluate` run: a picker against STA/LTA, AIC and
(where installed) PhaseNetLight on the same labelled windows, scored by `hfm.seismic.metrics`."""

from __future__ import annotations

import numpy as np
import torch

from hfm.seismic.baselines import AicPicker, StaLtaPicker
from hfm.seismic.baselines.peers import PhaseNetLightPeer
from hfm.seismic.data.windows import LabelledWindows
from hfm.seismic.metrics import PickScores, score_aic, score_model, score_stalta


def cut_event_windows(traces: LabelledWindows, samples: int, seed: int) -> LabelledWindows:
    """Windows of `samples` from long traces: one with P at a seeded place in its first half and, where the trace
    reaches far enough before P, one noise window ending a second before P; traces without P give a noise window."""
    rng = np.random.default_rng(seed)
    rate, margin = traces.sampling_rate, int(traces.sampling_rate)
    waves, p_out, s_out = [], [], []
    length = traces.waveforms.shape[-1]
    for wave, p, s in zip(traces.waveforms, traces.p_sample, traces.s_sample, strict=True):
        if not np.isfinite(p):  # a noise trace: its first window
            waves.append(wave[:, :samples])
            p_out.append(np.nan)
            s_out.append(np.nan)
            continue
        start = int(np.clip(p - rng.uniform(0.1, 0.5) * samples, 0, length - samples))
        waves.append(wave[:, start : start + samples])
        p_out.append(p - start)
        s_out.append(s - start if np.isfinite(s) and s - start < samples else np.nan)
        if p - margin - samples >= 0:
            end = int(p - margin)
            waves.append(wave[:, end - samples : end])
            p_out.append(np.nan)
            s_out.append(np.nan)
    return LabelledWindows(np.stack(waves), np.array(p_out), np.array(s_out), rate, traces.name)


def _predict(model: torch.nn.Module, windows: LabelledWindows, batch: int = 64) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            logits = model(torch.from_numpy(windows.waveforms[start : start + batch]))
            out.append(logits[:, :3].softmax(dim=1).numpy())
    return np.concatenate(out)


def compare(
    model: torch.nn.Module, windows: LabelledWindows, peer: PhaseNetLightPeer | None, seed: int
) -> list[PickScores]:
    rows = [score_model("hfm picker (pretrained)", _predict(model, windows), windows, seed=seed)]
    rows.append(score_stalta(StaLtaPicker(), windows, seed=seed))
    rows.append(score_aic(AicPicker(), windows, seed=seed))
    if peer is not None:
        rows.append(score_model(peer.name, peer.predict(windows.waveforms), windows, seed=seed))
    return rows
