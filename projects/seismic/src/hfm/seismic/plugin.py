"""What hfm-seismic offers to the core (see `hfm domains`). Lists only implemented features."""

from hfm.seismic import models as _models  # noqa: F401  (registers seismic-picker-* and seismic-mae-*)
from hfm.seismic.format import SeisBenchFormat
from hfm.shared.plugins import DomainPlugin

plugin = DomainPlugin(
    name="seismic",
    summary="Earthquake waveforms: ObsPy readers, SeisBench format, phase picking and detection.",
    readers=(
        "obspy (MSEED, SAC, GSE2, SEISAN, SEGY, ...)",
        "seisbench",
        "quakeml picks",
        "csv picks",
        "nordic s-files (SEISAN)",
        "phasenet npz",
        "continuous records",
    ),
    heads=("phase picking (P/S/noise per sample)", "event detection (per sample)"),
    dataset_formats={"seisbench": SeisBenchFormat},
    cli="hfm.seismic.cli:app",
    hooks={"quickstart": "hfm.seismic.quickstart:run", "synergy": "hfm.seismic.synergy:seismic_bench"},
    task_factories={
        "seismic-mae": "hfm.seismic.tasks:seismic_mae",
        "seismic-pick": "hfm.seismic.tasks:seismic_pick",
        "seismic-onset": "hfm.seismic.tasks:seismic_onset",
    },
    benchmarks={"seismic-picking": "hfm.seismic.benchmarks:bench_figures"},
    models=tuple(f"seismic-{kind}-{size}" for kind in ("mae", "picker") for size in ("tiny", "small", "base")),
    baselines=(
        "PhaseNetLight (SeisBench, ETHZ)",
        "STA/LTA + AIC",
        "ar_pick (ObsPy)",
        "pk_baer (ObsPy)",
        "hfm picker from scratch",
    ),
)
