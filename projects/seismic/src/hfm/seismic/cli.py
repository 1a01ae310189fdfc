"""`hfm seismic curate | pretrain | pretrain-onset | finetune | predict | evaluate | benchmark`, with the shared
arguments.

`predict` is the annotator: picks on continuous records of any length (there is no separate `annotate` verb).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hfm.shared.cli.curate_command import CurateRequest, curate_command
from hfm.shared.cli.options import Dataset, Init, Out, Raw, Seed
from hfm.shared.cli.training import TrainingRun, add_training_command
from hfm.shared.errors import HFMError
from hfm.shared.shortcuts import ShortcutResult

if TYPE_CHECKING:
    from torch import nn

app = typer.Typer(
    help="Earthquake waveforms: curation, pretraining, phase picking (predict), evaluation, benchmark.",
    no_args_is_help=True,
)

Split = typer.Option("train", help="Split of the dataset to train on.")
Samples = typer.Option(1000, help="Window length in samples at 100 Hz.")
Normalization = typer.Option(
    "window", help="Tokenizer scaling: 'window' (one std over all components) or 'component' (each its own)."
)
HorizontalDropout = typer.Option(0.0, help="Share of training windows whose N and E are zeroed (vertical only).")
HorizontalNoise = typer.Option(0.0, help="Share of training windows whose N and E get noise at 0.5-3x their std.")


@curate_command(app, shard_size=0, shard_help="Windows per shard (one small SeisBench dataset each); 0: unsharded.")
def curate(
    raw: Raw,
    catalogue: Path = typer.Option(
        None, help="Picks: QuakeML (any ObsPy event format) or CSV for --source catalogue; the REA folder for nordic."
    ),
    source: str = typer.Option(
        "catalogue",
        help="catalogue: windows around catalogue picks; nordic: SEISAN WAV folder + REA S-files (whole records); "
        "npz: PhaseNet npz windows (split by station); continuous: unlabelled windows from day-long records.",
    ),
    rate: float = typer.Option(100.0, help="Target sampling rate in Hz."),
    window: float = typer.Option(30.0, help="Window length in seconds."),
    noise: bool = typer.Option(True, help="Also cut a noise window before each P (--source catalogue)."),
    seed: Seed = 0,
    *,
    request: CurateRequest,
) -> None:
    """Waveforms (any ObsPy format) -> a SeisBench-format dataset with its card; the rest quarantined with reasons."""
    from hfm.seismic.curate import CurationConfig, curate_source

    config = CurationConfig(sampling_rate=rate, window_s=window, noise_windows=noise, seed=seed)
    out = request.out
    done = curate_source(
        source, raw, catalogue, out, config, request.describe(), request.show_progress, request.sharding
    )
    if done.summary is None:  # a part of an array: the run without --part merges and writes the card
        typer.echo(f"{out}: part {request.part} curated")
        return
    typer.echo(done.summary.line())
    typer.echo(f"dataset: {out}  (quarantine report: {out / 'quarantine' / 'report.csv'})")


def _pretrain(run: TrainingRun) -> ShortcutResult:
    from hfm.seismic.training import pretrain

    extra = dict(run.extra)
    target = extra.pop("target")
    return pretrain(run.dataset, run.out, run.settings, **extra, model=run.model, model_args={"target": target})


def _pretrain_onset(run: TrainingRun) -> ShortcutResult:
    from hfm.seismic.training import pretrain_onset_dataset

    return pretrain_onset_dataset(run.dataset, run.out, run.settings, **run.extra, model=run.model)


def _finetune(run: TrainingRun) -> ShortcutResult:
    from hfm.seismic.training import finetune

    extra = dict(run.extra)
    sigma = extra.pop("sigma")
    depth = extra.pop("refiner_depth")
    model_args = {"refiner_depth": depth} if depth else {}  # 0 is the registry's default: the run.yaml as before
    options = {**extra, "model": run.model, "model_args": model_args, "sigma_s": sigma}
    return finetune(run.dataset, run.out, run.settings, init=run.init, **options)


def _data_options(synthetic: int) -> dict:
    """What pretrain and finetune both take beyond the shared options: data and the robustness options (issue 14)."""
    return {
        "split": (str, Split),
        "samples": (int, Samples),
        "synthetic": (int, typer.Option(synthetic, help="Number of generated records when DATASET is 'synthetic'.")),
        "normalization": (str, Normalization),
        "horizontal_dropout": (float, HorizontalDropout),
        "horizontal_noise": (float, HorizontalNoise),
    }


add_training_command(
    app,
    "pretrain",
    _pretrain,
    help="Masked-autoencoder pretraining on unlabelled windows; writes OUT/run.yaml (replay: hfm train) and OUT/model.",
    model="seismic-mae-tiny",
    extra={
        **_data_options(synthetic=1024),
        "target": (
            str,
            typer.Option(
                "spectrum",
                help="What hidden patches are predicted as: 'spectrum' (log-amplitude spectra) or 'waveform'.",
            ),
        ),
    },
)
add_training_command(
    app,
    "pretrain-onset",
    _pretrain_onset,
    help="Onset pretraining of the whole picker (refiner included) on unlabelled windows of an unsharded dataset: "
    "hidden blocks, targets that peak where energy begins (issue 14); fine-tune OUT/model with --init-scope picker, "
    "the same --refiner-depth and --normalization component.",
    model="seismic-picker-tiny",
    steps=1600,
    batch_size=16,
    extra={
        "split": (str, Split),
        "samples": (int, typer.Option(3000, help="Window length in samples at 100 Hz.")),
        "synthetic": (int, typer.Option(512, help="Number of generated records when DATASET is 'synthetic'.")),
        "refiner_depth": (int, typer.Option(8, help="Depth of the picker's sample-rate refiner, pretrained with it.")),
        "horizontal_dropout": (float, typer.Option(0.3, help=HorizontalDropout.help)),
        "horizontal_noise": (float, typer.Option(0.5, help=HorizontalNoise.help)),
    },
)
add_training_command(
    app,
    "finetune",
    _finetune,
    help="Fine-tune the phase picker and detector head on labelled windows (from --init's encoder, or the whole "
    "picker with --init-scope picker).",
    model="seismic-picker-tiny",
    init=True,
    extra={
        "label_fraction": (float, typer.Option(1.0, help="Fraction of labelled windows to train on.")),
        "sigma": (float, typer.Option(0.1, help="Width (s) of the Gaussian P/S targets.")),
        "init_scope": (
            str,
            typer.Option(
                "encoder", help="What of --init loads: 'encoder' (a pretrained MAE's) or 'picker' (every tensor)."
            ),
        ),
        "refiner_depth": (int, typer.Option(0, help="Depth of the picker's sample-rate refiner (0: none).")),
        **_data_options(synthetic=512),
    },
)


Member = typer.Option(
    [],
    "--member",
    help="A further picker averaged with --init (repeat it): an ensemble answers with the mean of their probabilities.",
)


def _picker(init: Path, members: list[Path]) -> nn.Module:
    """The picker at `init`, or the ensemble of it and `members` (`models.PickerEnsemble`)."""
    from hfm.seismic.models import PhasePicker, PickerEnsemble
    from hfm.shared.artifacts import load_pretrained

    pickers = [load_pretrained(path)[0] for path in (init, *members)]
    for path, picker in zip((init, *members), pickers, strict=True):
        if members and not isinstance(picker, PhasePicker):
            raise HFMError(
                f"{path} holds a {type(picker).__name__}, not a picker: an ensemble's --init and every --member must "
                "be pickers (hfm seismic finetune)"
            )
    return PickerEnsemble(pickers) if members else pickers[0]


@app.command()
def predict(
    waveforms: list[Path] = typer.Argument(..., help="Waveform files (any ObsPy format), any length, gaps allowed."),
    out: Out = Path("picks"),
    init: Init = None,
    quakeml: bool = typer.Option(False, help="Also write the picks as QuakeML (OUT/picks.xml)."),
    probabilities: bool = typer.Option(False, help="Also write the probability traces (OUT/probabilities.mseed)."),
    p_threshold: float = typer.Option(0.3, help="P probability threshold."),
    s_threshold: float = typer.Option(0.3, help="S probability threshold."),
    overlap: float = typer.Option(0.5, help="Overlap of consecutive windows (0-0.9)."),
    member: list[Path] = Member,
) -> None:
    """Pick P and S on continuous data with the picker --init: sliding windows, stitched probabilities, UTC picks."""
    import obspy

    from hfm.seismic.predict import AnnotateConfig, annotate
    from hfm.seismic.readers import read_stream
    from hfm.seismic.readers.catalogue import write_quakeml

    if init is None:
        raise HFMError("predict needs --init MODEL (a picker from `hfm seismic finetune`)")
    if not 0 <= overlap < 1:
        raise HFMError(f"--overlap {overlap}: must lie in [0, 1)")
    picker = _picker(init, member)
    stream = obspy.Stream()
    for path in waveforms:
        stream += read_stream(path)
    config = AnnotateConfig(p_threshold=p_threshold, s_threshold=s_threshold, overlap=overlap)
    probs, picks = annotate(picker, stream, config)
    out.mkdir(parents=True, exist_ok=True)
    picks.to_csv(out / "picks.csv", index=False, lineterminator="\n")
    if quakeml:
        write_quakeml(picks, out / "picks.xml")
    if probabilities:
        probs.write(str(out / "probabilities.mseed"), format="MSEED")
    counts = f"{(picks['phase'] == 'P').sum()} P, {(picks['phase'] == 'S').sum()} S"
    typer.echo(f"{len(picks)} picks ({counts}) -> {out / 'picks.csv'}")


@app.command()
def evaluate(
    dataset: Dataset,
    out: Out,
    init: Init = None,
    split: str = typer.Option("test", help="Split of the dataset to score on."),
    seed: Seed = 0,
    member: list[Path] = Member,
) -> None:
    """The picker --init against STA/LTA, AIC (and PhaseNetLight where installed) on one split's labelled windows."""
    from hfm.seismic.baselines.peers import PhaseNetLightPeer
    from hfm.seismic.data.windows import seisbench_windows
    from hfm.seismic.experiments import compare
    from hfm.seismic.metrics import scores_table
    from hfm.shared.sample_data import require_data

    if init is None:
        raise HFMError("evaluate needs --init MODEL (a picker from `hfm seismic finetune`)")
    picker = _picker(init, member)
    windows = seisbench_windows(dataset, split, samples=None)
    try:
        peer = PhaseNetLightPeer(require_data("seismic/peers"))
    except HFMError:  # no weights or no seisbench: the comparison goes on without the peer
        peer = None
    rows = compare(picker, windows, peer, seed)
    out.mkdir(parents=True, exist_ok=True)
    # one flat row per method (a PickScores nests one OnsetErrors per phase)
    (out / "evaluation.json").write_text(json.dumps([r.as_row() for r in rows], indent=2) + "\n")
    table = scores_table(rows)
    (out / "evaluation.md").write_text(f"# {dataset} ({split}, {len(windows)} windows)\n\n{table}\n")
    typer.echo(table)


@app.command()
def benchmark(
    out: Out = Path("benchmarks"),
    smoke: bool = typer.Option(False, help="Tiny settings of the picking benchmark (minutes; figures mean nothing)."),
) -> None:
    """The seismic benchmarks through the shared harness, to OUT/partial/ (like `tools/bench.py --only`); the picking
    benchmark's whole report to $HFM_BENCH_OUT/seismic (default OUT/seismic)."""
    import torch

    if smoke:
        from hfm.seismic.benchmarks.picking import PickBenchConfig, run_pick_benchmark

        torch.set_num_threads(1)  # the machine is shared; the run is sized for one thread
        run_pick_benchmark(out, PickBenchConfig.quick())
        typer.echo((out / "benchmark.md").read_text())
        return
    from hfm.seismic.plugin import plugin
    from hfm.shared.train.benchmark import run_domain_benchmarks

    results, md_path = run_domain_benchmarks("seismic", list(plugin.benchmarks), None, out)
    typer.echo(md_path.read_text())
    if results["failures"]:
        raise typer.Exit(1)
