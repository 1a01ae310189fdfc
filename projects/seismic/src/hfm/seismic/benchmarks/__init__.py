"""The seismic benchmarks for the shared harness (`seismic-picking`, declared in the plugin; `nox -s bench`).

The picking benchmark itself lives in `benchmarks/picking.py` (real analyst picks: DFDP test set, NCEDC train/dev,
pretraining on real waveforms), the loader comparison in `benchmarks/loader.py`.
"""

from __future__ import annotations

import torch

from hfm.shared.eval.figures import Figure
from hfm.shared.sample_data import require_data

COMMAND = "hfm seismic benchmark"  # what a figure names as the way to reproduce it


def bench_figures() -> list[Figure]:
    """Entry point of the `hfm.benchmarks` group: the picking benchmark and the loader, in a temporary folder."""
    import tempfile

    from hfm.seismic.benchmarks.loader import loader_figure
    from hfm.seismic.benchmarks.picking import PickBenchConfig, run_pick_benchmark

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        _, figures = run_pick_benchmark(folder, PickBenchConfig())
    return [*figures, loader_figure(require_data("seismic/seisbench-dummy"))]
