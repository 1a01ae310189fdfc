"""`hfm template curate | pretrain | finetune | predict | evaluate | benchmark`, with the shared arguments."""

from __future__ import annotations

import json

import typer

from hfm.shared.cli.curate_command import CurateRequest, curate_command
from hfm.shared.cli.options import Dataset, Init, Out, Raw, Steps
from hfm.shared.cli.training import TrainingRun, add_training_command
from hfm.shared.shortcuts import ShortcutResult

app = typer.Typer(help="Template domain: 1-D signals in class folders.", no_args_is_help=True)


@curate_command(app, shard_size=1000, shard_help="Items per shard; 0: one unsharded dataset.")
def curate(raw: Raw, *, request: CurateRequest) -> None:
    """Curate class folders of .npy signals; quarantine the rest with reasons."""
    from hfm.template.curate import curate_signals

    done = curate_signals(
        raw, request.out, request.describe(), show_progress=request.show_progress, sharding=request.sharding
    )
    typer.echo(request.line(done.summary))


def _pretrain(run: TrainingRun) -> ShortcutResult:
    from hfm.template.training import pretrain

    run.require_model("template-mae-tiny")
    return pretrain(run.dataset, run.out, run.settings)


def _finetune(run: TrainingRun) -> ShortcutResult:
    from hfm.template.training import finetune

    run.require_model("template-classifier-tiny")
    return finetune(run.dataset, run.out, run.settings, init=run.init)


add_training_command(
    app,
    "pretrain",
    _pretrain,
    help="Masked-autoencoder pretraining; writes OUT/run.yaml (replay: hfm train OUT/run.yaml) and OUT/model.",
    model="template-mae-tiny",
    steps=200,
)
add_training_command(
    app,
    "finetune",
    _finetune,
    help="Fine-tune the classifier (from --init's encoder); the checkpoint is chosen on the dev split.",
    model="template-classifier-tiny",
    steps=200,
    init=True,
)


@app.command("predict")
def predict(dataset: Dataset, out: Out, init: Init = None, split: str = typer.Option("test")) -> None:
    """Classify the signals of one split with the model --init; writes OUT/predictions.csv."""
    from hfm.shared.errors import HFMError
    from hfm.template.data import load_split
    from hfm.template.experiments import predict as run

    if init is None:
        raise HFMError("predict needs --init MODEL (a fine-tuned model folder)")
    classes = run(init, dataset, split)
    _, truth = load_split(dataset, split)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["index,predicted,label", *(f"{i},{p},{t}" for i, (p, t) in enumerate(zip(classes, truth, strict=True)))]
    (out / "predictions.csv").write_text("\n".join(lines) + "\n")
    typer.echo(f"{out / 'predictions.csv'}: {len(classes)} predictions")


@app.command("evaluate")
def evaluate(dataset: Dataset, out: Out, init: Init = None) -> None:
    """Accuracy of the model --init and of the baseline on the test split, paired over signals."""
    from hfm.shared.errors import HFMError
    from hfm.shared.eval.stats import paired_bootstrap
    from hfm.template.experiments import score

    if init is None:
        raise HFMError("evaluate needs --init MODEL (a fine-tuned model folder)")
    scores = score(init, dataset)
    diff, low, high = paired_bootstrap(scores.hfm_correct, scores.baseline_correct)
    result = {"n_test": scores.n_test, "hfm": scores.hfm_correct.mean(), "baseline": scores.baseline_correct.mean()}
    result |= {"difference": diff, "interval": [low, high]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(result, indent=2) + "\n")
    typer.echo(json.dumps(result))


@app.command("benchmark")
def benchmark(out: Out, steps: Steps = 60) -> None:
    """The template's benchmark on generated example signals; figures to OUT/figures.json."""
    from hfm.template.benchmarks import run_benchmark

    figures = run_benchmark(out, steps=steps)
    (out / "figures.json").write_text(json.dumps([f.as_dict() for f in figures], indent=2) + "\n")
    typer.echo(f"{out / 'figures.json'}: " + "; ".join(f"{f.name} {f.value:.3f} ({f.outcome})" for f in figures))
