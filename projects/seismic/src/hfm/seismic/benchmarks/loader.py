"""The seismic loader against SeisBench's generator: windows per second on the same file, in the same order."""

from __future__ import annotations

from pathlib import Path

from hfm.seismic.benchmarks import COMMAND
from hfm.seismic.format import SeisBenchDataset
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.throughput import PairedRates, Pass, paired_rates, throughput_figure


def hfm_pass(root: Path) -> Pass:
    """One pass of hfm's reader over every window of the file."""

    def run() -> int:
        ours = SeisBenchDataset(root)
        try:
            for index in range(len(ours)):
                ours.waveform(index)
            return len(ours)
        finally:
            ours.close()

    return run


def seisbench_pass(root: Path) -> Pass | None:
    """One pass of SeisBench's WaveformDataset + GenericGenerator over the same file; None without seisbench."""
    try:
        import seisbench.data as sbd
        import seisbench.generate as sbg
    except ImportError:
        return None

    def run() -> int:
        generator = sbg.GenericGenerator(sbd.WaveformDataset(root, cache=None, component_order="ZNE"))
        for index in range(len(generator)):
            generator[index]
        return len(generator)

    return run


def loader_rates(root: Path, repeats: int = 5) -> PairedRates:
    return paired_rates(hfm_pass(root), seisbench_pass(root), repeats=repeats)


def loader_figure(root: Path, repeats: int = 5) -> Figure:
    """hfm's reader vs SeisBench's generator in windows/s, alternating `repeats` times; paired bootstrap over them."""
    return throughput_figure(
        loader_rates(root, repeats),
        name="seismic loader: windows/s, hfm reader vs SeisBench GenericGenerator",
        task="seismic/loader",
        item="windows",
        baseline_name="SeisBench GenericGenerator",
        command=COMMAND,
        goal=">= 2x SeisBench's generator",
    )
