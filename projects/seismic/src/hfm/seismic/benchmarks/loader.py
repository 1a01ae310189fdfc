"""The seismic loader against SeisBench's generator: windows per second on the same file, in the same order."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hfm.seismic.benchmarks import COMMAND
from hfm.seismic.format import SeisBenchDataset
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import paired_bootstrap


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
