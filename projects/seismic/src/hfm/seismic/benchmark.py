"""The seismic benchmark entry point (`seismic-picking` in `hfm.benchmarks`) and the loader comparison.

The picking benchmark itself lives in `pick_benchmark.py` (real analyst picks: DFDP test set, NCEDC train/dev,
pretraining on real waveforms). Here: the entry point that `nox -s bench` calls, the loader speed against
SeisBench's generator, and the small window helpers the quickstart uses.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from hfm.seismic.baselines import AicPicker, StaLtaPicker
from hfm.seismic.evaluation import PickScores, score_aic, score_model, score_stalta
from hfm.seismic.peers import PhaseNetLightPeer
from hfm.seismic.seisbench_format import SeisBenchDataset
from hfm.seismic.windows import LabelledWindows
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import paired_bootstrap
from hfm.shared.sample_data import require_data

COMMAND = "hfm seismic evaluate"


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


def loader_speed(root: Path, passes: int = 3) -> dict[str, float | None]:
    """Windows per second: hfm's reader vs SeisBench's WaveformDataset + GenericGenerator, same file, same order."""
    ours = SeisBenchDataset(root)
    count = len(ours) * passes
    start = time.perf_counter()
    for _ in range(passes):
        for index in range(len(ours)):
            ours.waveform(index)
    hfm_rate = count / (time.perf_counter() - start)
    ours.close()
    try:
        import seisbench.data as sbd
        import seisbench.generate as sbg
    except ImportError:
        return {"hfm_windows_per_s": hfm_rate, "seisbench_windows_per_s": None}
    generator = sbg.GenericGenerator(sbd.WaveformDataset(root, cache=None, component_order="ZNE"))
    start = time.perf_counter()
    for _ in range(passes):
        for index in range(len(generator)):
            generator[index]
    return {"hfm_windows_per_s": hfm_rate, "seisbench_windows_per_s": count / (time.perf_counter() - start)}


def loader_figure(root: Path, repeats: int = 5, passes: int = 1) -> Figure:
    """hfm's reader vs SeisBench's generator in windows/s, alternating `repeats` times; paired bootstrap over them."""
    runs = [loader_speed(root, passes) for _ in range(repeats)]
    ours = np.array([r["hfm_windows_per_s"] for r in runs])
    theirs = np.array([r["seisbench_windows_per_s"] or np.nan for r in runs])
    _, low, high = (
        paired_bootstrap(ours, theirs, n_resamples=1000) if np.isfinite(theirs).all() else (0, np.nan, np.nan)
    )
    return Figure(
        name="seismic loader: windows/s, hfm reader vs SeisBench GenericGenerator",
        task="seismic/loader",
        metric="windows/s",
        higher_is_better=True,
        value=float(ours.mean()),
        baseline=float(np.nanmean(theirs)) if np.isfinite(theirs).any() else float("nan"),
        baseline_name="SeisBench GenericGenerator",
        n_test=repeats,
        test_unit="repeats",
        interval=(low, high),
        interval_method=f"paired bootstrap over {repeats} alternating repeats",
        unit="windows/s",
        command=COMMAND,
        goal=">= 2x SeisBench's generator",
        notes=f"ratio {ours.mean() / np.nanmean(theirs):.2f}x"
        if np.isfinite(theirs).any()
        else "seisbench not installed",
    )


def bench_figures() -> list[Figure]:
    """Entry point of the `hfm.benchmarks` group: the picking benchmark and the loader, in a temporary folder."""
    import tempfile

    from hfm.seismic.pick_benchmark import PickBenchConfig, run_pick_benchmark

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        _, figures = run_pick_benchmark(folder, PickBenchConfig())
    return [*figures, loader_figure(require_data("seismic/seisbench-dummy"))]
