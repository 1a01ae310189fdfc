"""`hfm models list|info|export`: the model registry and portable artifacts from a finished training run."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from hfm.shared.errors import HFMError

app = typer.Typer(help="Registered models and model artifacts.", no_args_is_help=True)


@app.command("list")
def list_(pattern: str = typer.Argument("*", help="Shell-style pattern, e.g. '*-mae-*' or 'trunk-*'.")) -> None:
    """List registered models (the core's and those of installed domains) matching a pattern."""
    from hfm.shared.models.registry import list_models, model_info

    names = list_models(pattern)
    if not names:
        raise HFMError(f"no registered model matches {pattern!r}")
    table = Table(title=f"models matching {pattern!r}")
    for column in ("name", "architecture", "trunk", "input", "description"):
        table.add_column(column)
    for name in names:
        p = model_info(name).pretrained
        table.add_row(name, p.architecture, p.trunk, p.input, p.description)
    Console(width=160).print(table)


@app.command("info")
def info(
    name: str = typer.Argument(..., help="A registered model name, an exported artifact folder or a run folder."),
    count: bool = typer.Option(True, "--count/--no-count", help="Build the model to count its parameters."),
) -> None:
    """Show a model's pretrained configuration, an artifact's config and card, or a run's summary and model
    selection (chosen step, its validation score, every validation) as JSON."""
    from hfm.shared.models.registry import create_model, describe

    path = Path(name)
    if path.is_dir() and not (path / "config.json").exists() and (path / "config.yaml").is_file():
        typer.echo(json.dumps(_run_info(path), indent=2))  # a training run folder, not an artifact
        return
    if path.is_dir():
        from hfm.shared.artifacts import load_card, read_config

        typer.echo(json.dumps({"config": read_config(path), "card": load_card(path).model_dump()}, indent=2))
        return
    described = describe(name)
    if count:
        model = create_model(name)
        described["parameters"] = sum(p.numel() for p in model.parameters())
    typer.echo(json.dumps(described, indent=2, default=str))


def _run_info(run: Path) -> dict:
    """summary.json and selection.json of a run folder (null where the run has not written them)."""
    out = {"run": str(run)}
    for key, filename in (("summary", "summary.json"), ("selection", "selection.json")):
        file = run / filename
        try:
            out[key] = json.loads(file.read_text()) if file.is_file() else None
        except ValueError as error:
            raise HFMError(f"{file}: not valid JSON ({error})") from None
    return out


@app.command("export")
def export(
    run_dir: Path = typer.Argument(..., help="A finished training run folder (config.yaml, final/ or checkpoints/)."),
    out_dir: Path = typer.Argument(..., help="Artifact folder to write."),
    license: str = typer.Option("Apache-2.0", help="SPDX licence of the weights."),
    intended_use: str = typer.Option(..., help="What the model is for (goes into the model card)."),
    limitations: str = typer.Option(..., help="What it must not be used for, known weaknesses."),
    name: str = typer.Option(None, help="Model name in the card (default: the artifact folder's name)."),
    description: str = typer.Option("", help="One paragraph about the model."),
    author: list[str] = typer.Option(None, help="Author; repeat for several."),
    ema: bool = typer.Option(False, "--ema", help="Export the EMA weights instead of the raw ones."),
) -> None:
    """Export a run's final weights (or its newest valid checkpoint) with config.json and a model card."""
    from hfm.shared.artifacts import export_run

    out, report = export_run(
        run_dir,
        out_dir,
        license=license,
        intended_use=intended_use,
        limitations=limitations,
        name=name,
        description=description,
        authors=list(author or []),
        ema=ema,
    )
    typer.echo(f"{out}: exported; weights {report.summary()}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="models")
