"""`hfm <domain> curate`, built once: the domain's own inputs and options, then the arguments every domain shares.

Every curate command takes the same `--out`, the data owner's statement (`--name`, `--license`, `--creator`: never
assumed, never invented) and the same way to cut the work (`--quiet`, `--shard-size`, `--workers`, `--part`). A
domain writes a function with only its own parameters and one `request: CurateRequest`, its docstring the help:

    @curate_command(app, shard_size=0, shard_help="Windows per shard (...); 0: unsharded.")
    def curate(raw: Raw, window: float = typer.Option(30.0, help="..."), *, request: CurateRequest) -> None:
        '''Waveforms -> a SeisBench-format dataset; the rest quarantined with reasons.'''
        done = curate_windows(raw, request.out, request.describe(), request.show_progress, request.sharding)
        typer.echo(request.line(done.summary))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from hfm.shared.cli.options import Creators, License, Out, Part, Quiet, Workers, curation_line, sharding

if TYPE_CHECKING:
    from hfm.shared.curate_driver import DatasetDescription
    from hfm.shared.shard_curation import Sharding


@dataclass(frozen=True)
class CurateRequest:
    """What `hfm <domain> curate` was asked beside the domain's own inputs and options."""

    out: Path
    name: str | None  # None where the domain names the dataset itself (see `describe`)
    license: str
    creators: list[str]
    sharding: Sharding
    part: str | None  # --part as typed (PART/COUNT), for the line curate prints
    show_progress: bool

    def describe(self, default_name: str | None = None) -> DatasetDescription:
        """The card's owner statement; `default_name` names the dataset where `--name` was not given."""
        from hfm.shared.curate_driver import DatasetDescription

        return DatasetDescription(self.name or default_name or "", self.license, self.creators)

    def line(self, summary: Any) -> str:
        """What curate prints: the summary, or, for one part of an array, that the part is done."""
        return curation_line(self.out, summary, self.part)


Runner = Callable[..., Any]
SHARED = ("out", "name", "license", "creator", "quiet", "shard_size", "workers", "part")


def curate_command(
    app: typer.Typer,
    *,
    shard_size: int,
    shard_help: str,
    name: Any = ...,
    name_help: str = "Dataset name for the card.",
) -> Callable[[Runner], Runner]:
    """A decorator registering `curate` on `app`: the function's own parameters (all but `request`), then the
    shared ones; `name` is --name's default (`...`: required). The command calls `run(..., request=...)`."""

    def register(run: Runner) -> Runner:
        _register(app, run, shard_size, shard_help, name, name_help)
        return run

    return register


def _register(app: typer.Typer, run: Runner, shard_size: int, shard_help: str, name: Any, name_help: str) -> None:
    keyword = inspect.Parameter.KEYWORD_ONLY
    # eval_str: the domain's annotations resolved in its own module (typer reads them from `command`, not from there)
    own = [p for p in inspect.signature(run, eval_str=True).parameters.values() if p.name != "request"]
    clash = [p.name for p in own if p.name in SHARED]
    if clash:
        raise ValueError(f"curate: {clash} are shared options; remove them from {run.__name__}")
    shared = [
        inspect.Parameter("out", keyword, annotation=Out),
        inspect.Parameter("name", keyword, annotation=str, default=typer.Option(name, help=name_help)),
        inspect.Parameter("license", keyword, annotation=License),
        inspect.Parameter("creator", keyword, annotation=Creators),
        inspect.Parameter("quiet", keyword, annotation=Quiet, default=False),
        inspect.Parameter("shard_size", keyword, annotation=int, default=typer.Option(shard_size, help=shard_help)),
        inspect.Parameter("workers", keyword, annotation=Workers, default=None),
        inspect.Parameter("part", keyword, annotation=Part, default=None),
    ]
    parameters = own + shared  # the domain's inputs stay first; every shared one is an option

    def command(**given: Any) -> None:
        asked = {name: given.pop(name) for name in SHARED}
        request = CurateRequest(
            out=asked["out"],
            name=asked["name"],
            license=asked["license"],
            creators=list(asked["creator"]),
            sharding=sharding(asked["shard_size"], asked["workers"], asked["part"]),
            part=asked["part"],
            show_progress=not asked["quiet"],
        )
        run(**given, request=request)

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # what typer reads
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = run.__doc__
    command.__name__ = "curate"
    app.command("curate")(command)
