"""The seismic benchmarks for the shared harness (`seismic-picking`, declared in the plugin; `nox -s bench`).

The picking benchmark itself lives in `benchmarks/picking.py` (real analyst picks: DFDP test set, NCEDC train/dev,
pretraining on real waveforms), the loader comparison in `benchmarks/loader.py`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from hfm.shared.eval.figures import Figure
from hfm.shared.sample_data import require_data
from hfm.shared.train.benchmark import bench_folder

COMMAND = "hfm seismic benchmark"  # what a figure names as the way to reproduce it


def bench_figures() -> list[Figure]:
    """Entry point of the `hfm.benchmarks` group: the picking benchmark and the loader, in a temporary folder; its
    whole report (every method's table, dev thresholds, per-seed label-efficiency rows) is kept in
    `bench_folder("seismic")` ($HFM_BENCH_OUT/seismic, default benchmarks/seismic; not committed)."""
    import tempfile

    from hfm.seismic.benchmarks.loader import loader_figure
    from hfm.seismic.benchmarks.picking import PickBenchConfig, run_pick_benchmark

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        _, figures = run_pick_benchmark(folder, PickBenchConfig())
        keep_report(Path(folder), bench_folder("seismic"))
    return [*figures, loader_figure(require_data("seismic/seisbench-dummy"))]


def keep_report(run_folder: Path, destination: Path) -> None:
    """Copy benchmark.{json,md} out of the run folder (whose models and curated data are too big to keep)."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("benchmark.json", "benchmark.md"):
        shutil.copy2(run_folder / name, destination / name)
