"""`hfm quickstart`: the main job, offline, with embedded defaults."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hfm.shared.errors import HFMError
from hfm.shared.quickstart import QuickstartContext, run_quickstart


def quickstart(
    out: Path = typer.Option(Path("hfm-report"), "--out", "-o", help="Report folder."),
    smoke: bool = typer.Option(False, "--smoke", help="Smallest settings (what CI runs)."),
    domain: list[str] = typer.Option(None, "--domain", "-d", help="Only these domains; repeat for several."),
    seed: int = typer.Option(0, help="Random seed."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Curate, pretrain, probe, evaluate and export in every installed domain on real data; write a report."""
    index, failed = run_quickstart(QuickstartContext(out, smoke, seed, not quiet), domain or None)
    # A section without its reference data is skipped, not failed: say so here too, with the fetch command.
    for name, values in json.loads((index.parent / "metrics.json").read_text()).items():
        if isinstance(values, dict) and "skipped" in values:
            typer.echo(f"{name}: skipped: {values['skipped']}", err=True)
    typer.echo(str(index))
    if failed:
        raise HFMError(f"quickstart failed in {', '.join(failed)}; see {index}")
