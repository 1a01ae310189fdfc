"""`hfm card validate|croissant`: check a dataset card against its data, export it as Croissant JSON-LD."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from hfm.shared.cards import load_card, validate_card
from hfm.shared.croissant import to_croissant
from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.plugins import find_format

app = typer.Typer(help="Dataset cards: validate against the data, export to Croissant.", no_args_is_help=True)


@app.command("validate")
def validate(path: Path = typer.Argument(..., help="Dataset folder (holding card.json) or a card file.")) -> None:
    """Check checksums, record counts and contracts of a dataset against its card; exit 1 on any violation."""
    card, root = load_card(path)
    violations = validate_card(path, find_format(card.format))
    if violations:
        for violation in violations:
            typer.echo(f"✗ {violation.field} [{violation.code}]: {violation.reason}")
        typer.echo(f"{root}: {len(violations)} violation(s) against card {card.name} {card.version}")
        raise typer.Exit(1)
    typer.echo(
        f"{root}: card {card.name} {card.version} matches its data ({card.records} records, "
        f"{len(card.files)} files checked)"
    )


@app.command("croissant")
def croissant(
    path: Path = typer.Argument(..., help="Dataset folder (holding card.json) or a card file."),
    output: Path = typer.Option(
        None, "--output", "-o", help="Where to write (default: croissant.json beside the card)."
    ),
) -> None:
    """Write the card as MLCommons Croissant 1.1 JSON-LD (mlcroissant validates it and reads every RecordSet)."""
    card, root = load_card(path)
    target = output or root / "croissant.json"
    # contentUrls are resolved against the JSON-LD file's folder
    base = os.path.relpath(root.resolve(), target.resolve().parent)
    write_atomic(target, dump_json(to_croissant(card, root, base="" if base == "." else f"{base}/")))
    typer.echo(str(target))
