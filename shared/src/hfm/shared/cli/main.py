"""Entry point of the `hfm` command.

Errors reach the user as one message and a non-zero exit; `--debug` shows the traceback. Domain packages add their
own command groups (`hfm seismic ...`) through the `hfm.domains` entry points, loaded only when called.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import entry_points

import click
import typer
from rich.markup import escape
from typer.core import TyperGroup

from hfm.shared import __version__
from hfm.shared.cli import card, curate, domains, quickstart
from hfm.shared.errors import HFMError
from hfm.shared.plugins import installed_domains
from hfm.shared.progress import console

EXIT_ERROR = 1


# Packages that are not domains (e.g. hfm-synergy) add command groups here: name = "module:typer_app".
COMMAND_GROUP = "hfm.commands"


class DomainAwareGroup(TyperGroup):
    """Adds each installed domain's command group, importing the domain only when its commands are used.

    Listing the commands (`hfm --help`) must not import a domain (each pulls torch, ObsPy, MONAI...): while help is
    being formatted, a domain or extra group is a light stand-in named after it, its help the distribution's summary.
    """

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        extra = {ep.name for ep in entry_points(group=COMMAND_GROUP)}
        return sorted(set(super().list_commands(ctx)) | {d.name for d in installed_domains()} | extra)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        for ep in entry_points(group=COMMAND_GROUP):
            if ep.name == name:
                if self._listing:
                    return _stand_in(name, ep.dist.metadata["Summary"] if ep.dist else "")
                return _named(typer.main.get_command(ep.load()), name)
        for domain in installed_domains():
            if domain.name == name:
                if self._listing:
                    return _stand_in(name, domain.summary)
                plugin = domain.load()
                if plugin.cli is None:
                    return None
                group = _named(typer.main.get_command(plugin.cli()), name)
                group.help = group.help or plugin.summary
                return group
        return None


def _stand_in(name: str, summary: str) -> click.Command:
    return TyperGroup(name=name, help=summary or f"Commands of the {name} package.")


def _named(command: click.Command, name: str) -> click.Command:
    """A sub-app built without a name would be listed with a blank one."""
    command.name = name
    return command


app = typer.Typer(
    cls=DomainAwareGroup,
    help="HFM: build, train, validate and share foundation models for scientific data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(card.app, name="card")
app.add_typer(curate.app, name="curate")
app.command("domains")(domains.list_domains)
app.command("quickstart")(quickstart.quickstart)

# Command modules of the core that register themselves: each defines `register(app)`.
OPTIONAL_COMMANDS = ("train", "models", "evaluate", "launch", "bench", "data")
for _name in OPTIONAL_COMMANDS:
    try:
        _module = importlib.import_module(f"hfm.shared.cli.{_name}")
    except ModuleNotFoundError as _missing:
        if _missing.name != f"hfm.shared.cli.{_name}":
            raise
        continue
    _module.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hfm-shared {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """HFM: build, train, validate and share foundation models for scientific data."""


def run(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    command = typer.main.get_command(app)
    try:
        # Without standalone mode click returns the code of a `typer.Exit` instead of exiting.
        code = command.main(args=args, prog_name="hfm", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        console.print("aborted")
        sys.exit(EXIT_ERROR)
    except (HFMError, OSError, ValueError) as error:
        if debug:
            raise
        # escape: a message quoting "[f]" or "[t]" (EcoTaxa type rows) must not be eaten as rich markup
        console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except Exception as error:
        if debug:
            raise
        console.print(
            f"[bold red]error:[/] {type(error).__name__}: {escape(str(error))} (run with --debug for the traceback)",
            highlight=False,
        )
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    run()
