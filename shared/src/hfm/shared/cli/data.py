"""`hfm data list | fetch NAME | verify NAME | path NAME`: the data catalogue from the command line."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from hfm.shared.errors import HFMError

app = typer.Typer(
    help="The data catalogue: list, fetch (checksummed, resumable), verify and locate reference data sets.",
    no_args_is_help=True,
)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


@app.command("list")
def list_(details: bool = typer.Option(False, "--details", help="Also citation and use of each.")) -> None:
    """Every catalogued data set with its size, licence and where it is here (mirror, cache, missing)."""
    from hfm.shared.catalogue import cache_dir, load_catalogue, mirror_dir
    from hfm.shared.catalogue.fetch import status

    catalogue = load_catalogue()
    console = Console(width=200)
    table = Table(title=f"data sets (mirror: {mirror_dir() or 'none'}; cache: {cache_dir()})")
    for column in ("name", "files", "size", "licence", "here", *(("citation", "use") if details else ())):
        table.add_column(column)
    for dataset in catalogue.datasets.values():
        row = [dataset.name, str(len(dataset.files)), _size(dataset.size), dataset.licence, status(dataset)]
        cite = dataset.citation + (f" doi:{dataset.doi}" if dataset.doi else "")
        table.add_row(*row, *((cite, dataset.use) if details else ()))
    console.print(table)
    packaged = Table(title="data shipped in packages (installed, never fetched)")
    for column in ("name", "install", "licence", "here"):
        packaged.add_column(column)
    for entry in catalogue.packaged.values():
        location = entry.location()
        packaged.add_row(entry.name, entry.install, entry.licence, str(location) if location else "not installed")
    console.print(packaged)


def _expand(names: list[str]) -> list[str]:
    """A domain ("seismic") or "all" stands for every data set under it."""
    from hfm.shared.catalogue import load_catalogue

    known = list(load_catalogue().datasets)
    expanded = []
    for name in names:
        under = known if name == "all" else [k for k in known if k.startswith(name.rstrip("/") + "/")]
        expanded += under if under and name not in known else [name]
    return expanded


@app.command("fetch")
def fetch(
    names: list[str] = typer.Argument(
        ..., help="Data set names from `hfm data list` (e.g. seismic/dfdp-eqcorrscan), a domain (seismic) or all."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download what the offline mirror lacks into the cache ($HFM_DATA), verifying every sha256; resumes."""
    from hfm.shared.catalogue import load_catalogue
    from hfm.shared.catalogue.fetch import fetch as fetch_one

    for name in _expand(names):
        report = fetch_one(name, progress=not quiet)
        counts = f"{len(report.downloaded)} downloaded, {report.cached} cached before, {report.in_mirror} in the mirror"
        typer.echo(f"{name}: {counts} -> {report.location}")
        typer.echo(f"  licence: {load_catalogue().datasets[name].licence} (citation: hfm data list --details)")


@app.command("verify")
def verify(names: list[str] = typer.Argument(..., help="Data set names (`hfm data list`), a domain, or all.")) -> None:
    """Check size and sha256 of every file where it is read from; exit 1 naming each file that differs."""
    from hfm.shared.catalogue import load_catalogue
    from hfm.shared.catalogue.fetch import verify as verify_one

    failed = []
    for name in _expand(names):
        verified, problems = verify_one(name)
        for problem in problems:
            typer.echo(problem, err=True)
        typer.echo(f"{name}: {verified} of {len(load_catalogue().datasets[name].files)} files verified")
        if problems:
            failed.append(name)
    if failed:
        raise HFMError(f"verification failed for {', '.join(failed)}")


@app.command("path")
def path(name: str = typer.Argument(..., help="A data set name from `hfm data list`.")) -> None:
    """Print where a data set lies here (mirror, cache, or the installed package); exit 1 with the fetch command."""
    from hfm.shared.catalogue.fetch import where

    typer.echo(str(where(name)))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
