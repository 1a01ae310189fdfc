"""`hfm bench`: run the benchmarks of every installed package and write results.json and results.md."""

from __future__ import annotations

from pathlib import Path

import typer


def bench(
    out: Path = typer.Option(Path("benchmarks"), "--out", "-o", help="Folder for results.json and results.md."),
    only: list[str] = typer.Option(
        None,
        "--only",
        help="Run only this benchmark; repeatable. Written to OUT/partial/<names>.{json,md}; results.json is "
        "never touched.",
    ),
    list_: bool = typer.Option(False, "--list", help="List the benchmarks found and exit."),
) -> None:
    """Run every benchmark (core ones and those packages declare in the `hfm.benchmarks` entry points).

    One run, one file: without --only, OUT/results.{json,md} are written whole from this run."""
    from hfm.shared.train.benchmark import discover, run_benchmarks, write_results

    if list_:
        for benchmark in discover():
            typer.echo(f"{benchmark.name}\t{benchmark.target}\t({benchmark.origin})")
        return
    results = run_benchmarks(only or None)
    json_path, md_path = write_results(results, out)
    typer.echo(md_path.read_text())
    typer.echo(f"written: {json_path} and {md_path}")
    if results["failures"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
