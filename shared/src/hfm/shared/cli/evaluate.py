"""`hfm evaluate probe`: how well a pretrained encoder's frozen embeddings predict a label, against baselines."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import typer

app = typer.Typer(help="Evaluation protocols on curated datasets.", no_args_is_help=True)


def _fractions(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        from hfm.shared.errors import HFMError

        raise HFMError(f"--fractions: expected comma-separated numbers, got {text!r}") from None
    return values


@app.command("probe")
def probe(
    model: Path = typer.Argument(..., help="An exported artifact folder (hfm models export)."),
    dataset: Path = typer.Argument(..., help="An hfm-arrays dataset folder."),
    array: str = typer.Option(..., "--array", "-a", help="Array of each sample the encoder reads."),
    label: str = typer.Option(..., "--label", "-l", help="Metadata column to predict."),
    bins: int = typer.Option(0, help="Cut a numeric label into this many quantile classes (edges from train)."),
    split_column: str = typer.Option("split", help="Metadata column holding the split."),
    train: str = typer.Option("train", help="Split value of the training samples."),
    test: str = typer.Option("test", help="Split value of the test samples."),
    protocol: str = typer.Option(
        "linear", help="linear (logistic / ridge), knn (cosine), or finetune (a linear head trained with the encoder)."
    ),
    epochs: int = typer.Option(20, help="Epochs of --protocol finetune."),
    fractions: str = typer.Option("0.05,0.1,0.5,1", help="Label fractions of the label-efficiency curve."),
    seeds: int = typer.Option(3, help="Seeds per fraction (at least 3)."),
    normalize: str = typer.Option("sample", help="Input normalisation: sample | dataset | none (as in training)."),
    random_baseline: bool = typer.Option(
        True, "--random-baseline/--no-random-baseline", help="Also probe the same architecture untrained."
    ),
    out: Path = typer.Option(Path("hfm-eval"), "--out", "-o", help="Report folder (report.md, PNG, results.json)."),
) -> None:
    """Embed the dataset with the frozen encoder, fit a probe on the train split, score on the test split.

    With `--protocol finetune` the encoder is trained with a linear head instead (a copy; the artifact is unchanged).

    Prints the score beside the no-input baseline (majority class or training mean) and, by default, beside the same
    probe on an untrained encoder of the same architecture; writes a Markdown report with a label-efficiency plot.
    """
    import torch

    from hfm.shared.artifacts import load_pretrained, read_config
    from hfm.shared.errors import HFMError
    from hfm.shared.eval import as_encoder, embed, knn_probe, label_efficiency, linear_probe, write_report
    from hfm.shared.eval.data import load_labelled
    from hfm.shared.eval.finetune import finetune  # the function: the package attribute may be the module
    from hfm.shared.models.registry import create_model

    probes = {"linear": linear_probe, "knn": knn_probe}
    if protocol not in (*probes, "finetune"):
        raise HFMError(f"--protocol: must be linear, knn or finetune, got {protocol!r}")
    splits = load_labelled(dataset, array, label, split_column, train, test, normalize, bins)
    loaded, _ = load_pretrained(model)
    encoders = {"pretrained": as_encoder(loaded)}
    if random_baseline:
        config = read_config(model)
        torch.manual_seed(0)
        encoders["random init"] = as_encoder(create_model(config["model"], **config.get("args", {})))
    results, curves = {}, []
    for name, encoder in encoders.items():
        if protocol == "finetune":
            fit = partial(finetune, encoder, epochs=epochs)
            train_in, test_in = splits.train_x, splits.test_x
        else:
            fit = probes[protocol]
            train_in, test_in = embed(encoder, splits.train_x), embed(encoder, splits.test_x)
        results[name] = fit(train_in, splits.train_y, test_in, splits.test_y, task=splits.task)
        curves.append(
            label_efficiency(
                train_in,
                splits.train_y,
                test_in,
                splits.test_y,
                task=splits.task,
                fractions=_fractions(fractions),
                seeds=tuple(range(seeds)),
                protocol=fit,
                name=name,
            )
        )
    first = next(iter(results.values()))
    described = f"{splits.task} of {label!r}" + (f" in {len(splits.classes)} classes" if splits.classes else "")
    notes = (
        f"Model `{model}`, dataset `{dataset}` (array `{array}`), {described}; "
        f"{first.n_train} training samples (`{split_column}` = {train}), {first.n_test} test samples ({test}). "
        + (f"Classes: {', '.join(splits.classes)}." if splits.classes else "")
    )
    report = write_report(out, f"{protocol} probe: {label}", results, curves, notes)
    summary = " | ".join(f"{name} {r.value:.3f}" for name, r in results.items())
    typer.echo(f"{protocol} probe, {described}, {first.metric}: {summary} | no-input baseline {first.baseline:.3f}")
    typer.echo(f"report: {report}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="evaluate")
