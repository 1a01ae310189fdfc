"""`hfm seismic ...`: curate, pretrain, finetune, annotate, evaluate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from hfm.shared.errors import HFMError

app = typer.Typer(
    help="Earthquake waveforms: curation, pretraining, phase picking, annotation, benchmark.", no_args_is_help=True
)

INTENDED_USE = "Phase picking (P, S) and event detection on 3-component (or vertical-only) seismograms at 100 Hz."
LIMITS = (
    "Pretrained on a few thousand real unlabelled windows and fine-tuned on about a hundred NCEDC windows with analyst "
    "picks (see docs/seismic.md for its scores against PhaseNetLight); check picks against an analyst on new "
    "networks. Teleseismic and ocean-bottom data are outside the training distribution."
)


def _export(model, out: Path, name: str, metrics: dict[str, float], data: Path | None) -> Path:
    from hfm.shared.artifacts import DataCardReference, ModelCard, export_model

    refs = [DataCardReference.from_dataset(data)] if data and (data / "card.json").exists() else []
    card = ModelCard(name=name, intended_use=INTENDED_USE, limitations=LIMITS, data=refs, metrics=metrics)
    return export_model(model, out, {}, card)


def _data_option(data: str) -> str:
    if data != "synthetic" and not Path(data).is_dir():
        raise HFMError(f"--data {data}: neither 'synthetic' nor a SeisBench-format folder")
    return data


def _window_options(data: str, split: str, synthetic: int, model: str, samples: int) -> dict[str, Any]:
    """Task options both training commands share: where the windows come from, the model, the window length."""
    return {"data": _data_option(data), "split": split, "synthetic": synthetic, "model": model, "samples": samples}


@app.command()
def curate(
    waveforms: Path = typer.Argument(..., help="Folder of waveform files in any format ObsPy reads."),
    catalogue: Path = typer.Argument(
        ..., help="Pick catalogue: QuakeML (any ObsPy event format) or CSV; REA folder for --source nordic; '-' none."
    ),
    output: Path = typer.Argument(..., help="Dataset folder to write (SeisBench format + card.json)."),
    source: str = typer.Option(
        "catalogue",
        help="catalogue: windows around catalogue picks; nordic: SEISAN WAV folder + REA S-files (whole records); "
        "npz: PhaseNet npz windows (split by station); continuous: unlabelled windows from day-long records.",
    ),
    rate: float = typer.Option(100.0, help="Target sampling rate in Hz."),
    window: float = typer.Option(30.0, help="Window length in seconds."),
    noise: bool = typer.Option(True, help="Also cut a noise window before each P."),
    name: str = typer.Option("seismic-windows", help="Dataset name."),
    license: str = typer.Option("CC-BY-4.0", help="SPDX licence identifier."),
    creator: list[str] = typer.Option(["unknown"], help="Creator name; repeat for several."),
    seed: int = typer.Option(0, help="Seed of the P offsets and the event splits."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Cut windows around picks, check them, write a SeisBench-format dataset; quarantine the rest with reasons."""
    from hfm.seismic.curate import CurationConfig, curate_items, curate_seisbench, source_items

    if source == "catalogue":
        config = CurationConfig(sampling_rate=rate, window_s=window, noise_windows=noise, seed=seed)
        summary = curate_seisbench(
            waveforms, catalogue, output, config, name=name, license=license, creators=creator, show_progress=not quiet
        )
    else:
        items = source_items(source, waveforms, None if str(catalogue) == "-" else catalogue, rate, window, seed)
        parameters = {"source": source, "sampling_rate": rate, "window_s": window, "seed": seed}
        summary = curate_items(
            items,
            output,
            rate,
            name=name,
            license=license,
            creators=creator,
            description=f"{source} records from {waveforms.name}, SeisBench format",
            parameters=parameters,
            show_progress=not quiet,
        )
    typer.echo(summary.line())
    typer.echo(f"dataset: {output}  (quarantine report: {output / 'quarantine' / 'report.csv'})")


@app.command()
def pretrain(
    output: Path = typer.Argument(..., help="Run folder; the encoder artifact is written to OUTPUT/model."),
    data: str = typer.Option("synthetic", help="SeisBench-format folder, or 'synthetic' for generated records."),
    split: str = typer.Option("train", help="Split of the dataset to use."),
    synthetic: int = typer.Option(1024, help="Number of generated records when --data synthetic."),
    steps: int = typer.Option(300, help="Optimiser steps."),
    batch_size: int = typer.Option(32, help="Windows per step."),
    model: str = typer.Option("seismic-mae-tiny", help="Registered MAE (seismic-mae-tiny|small|base)."),
    samples: int = typer.Option(1000, help="Window length in samples at 100 Hz."),
    seed: int = typer.Option(0, help="Seed."),
    target: str = typer.Option(
        "spectrum", help="What hidden patches are predicted as: 'spectrum' (log-amplitude spectra) or 'waveform'."
    ),
) -> None:
    """Masked-autoencoder pretraining of the encoder on unlabelled windows."""
    from hfm.seismic.training import pretrain as run

    options = {**_window_options(data, split, synthetic, model, samples), "model_args": {"target": target}}
    mae, result = run(options, output, steps=steps, batch_size=batch_size, seed=seed)
    folder = _export(mae, output / "model", model, {}, Path(data) if data != "synthetic" else None)
    typer.echo(f"pretrained {result.step} steps ({result.samples_per_s or 0:.0f} windows/s); artifact: {folder}")


@app.command()
def finetune(
    output: Path = typer.Argument(..., help="Run folder; the picker artifact is written to OUTPUT/model."),
    data: str = typer.Option("synthetic", help="SeisBench-format folder with P/S sample columns, or 'synthetic'."),
    init: Path = typer.Option(None, help="Pretrained artifact folder (or model.safetensors) to start from."),
    label_fraction: float = typer.Option(1.0, help="Fraction of labelled windows to train on."),
    split: str = typer.Option("train", help="Split of the dataset to use."),
    synthetic: int = typer.Option(512, help="Number of generated records when --data synthetic."),
    steps: int = typer.Option(300, help="Optimiser steps."),
    batch_size: int = typer.Option(32, help="Windows per step."),
    sigma: float = typer.Option(0.1, help="Width (s) of the Gaussian P/S targets."),
    model: str = typer.Option("seismic-picker-tiny", help="Registered picker (seismic-picker-tiny|small|base)."),
    samples: int = typer.Option(1000, help="Window length in samples at 100 Hz."),
    seed: int = typer.Option(0, help="Seed."),
) -> None:
    """Fine-tune the phase picker and detector head on labelled windows."""
    from hfm.seismic.training import finetune as run

    options = {
        **_window_options(data, split, synthetic, model, samples),
        "label_fraction": label_fraction,
        "sigma_s": sigma,
    }
    if init is not None:
        options["init"] = str(init)
    picker, result = run(options, output, steps=steps, batch_size=batch_size, seed=seed)
    folder = _export(picker, output / "model", model, {}, Path(data) if data != "synthetic" else None)
    typer.echo(f"fine-tuned {result.step} steps; artifact: {folder}")


@app.command()
def annotate(
    model: Path = typer.Argument(..., help="Picker artifact folder (from `hfm seismic finetune`)."),
    waveforms: list[Path] = typer.Argument(..., help="Waveform files (any ObsPy format), any length, gaps allowed."),
    output: Path = typer.Option(Path("picks.csv"), "--output", "-o", help="Pick table (CSV)."),
    quakeml: Path = typer.Option(None, help="Also write the picks as QuakeML here."),
    p_threshold: float = typer.Option(0.3, help="P probability threshold."),
    s_threshold: float = typer.Option(0.3, help="S probability threshold."),
    overlap: float = typer.Option(0.5, help="Overlap of consecutive windows (0-0.9)."),
    probabilities: Path = typer.Option(None, help="Write the probability traces as miniSEED here."),
) -> None:
    """Pick P and S on continuous data: sliding windows, stitched probabilities, picks with UTC times."""
    import obspy

    from hfm.seismic.predict import AnnotateConfig
    from hfm.seismic.predict import annotate as run
    from hfm.seismic.readers import read_stream
    from hfm.seismic.readers.catalogue import write_quakeml
    from hfm.shared.artifacts import load_pretrained

    if not 0 <= overlap < 1:
        raise HFMError(f"--overlap {overlap}: must lie in [0, 1)")
    picker, _ = load_pretrained(model)
    stream = obspy.Stream()
    for path in waveforms:
        stream += read_stream(path)
    config = AnnotateConfig(p_threshold=p_threshold, s_threshold=s_threshold, overlap=overlap)
    probs, picks = run(picker, stream, config)
    picks.to_csv(output, index=False, lineterminator="\n")
    if quakeml is not None:
        write_quakeml(picks, quakeml)
    if probabilities is not None:
        probs.write(str(probabilities), format="MSEED")
    typer.echo(f"{len(picks)} picks ({(picks['phase'] == 'P').sum()} P, {(picks['phase'] == 'S').sum()} S) -> {output}")


@app.command()
def evaluate(
    output: Path = typer.Argument(Path("seismic-benchmark"), help="Folder for benchmark.md/.json, data and runs."),
    smoke: bool = typer.Option(False, help="Smallest settings (about two minutes), for CI."),
) -> None:
    """Benchmark on DFDP analyst picks: hfm vs PhaseNetLight, STA/LTA + AIC, ar_pick, pk_baer and hfm from scratch."""
    import torch

    from hfm.seismic.benchmarks.picking import PickBenchConfig, run_pick_benchmark

    torch.set_num_threads(1)  # the machine is shared; the run is sized for one thread
    run_pick_benchmark(output, PickBenchConfig.quick() if smoke else PickBenchConfig())
    typer.echo((output / "benchmark.md").read_text())
