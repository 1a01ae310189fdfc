"""`hfm domains`: which domain packages are installed and what each offers."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from hfm.shared.errors import HFMError
from hfm.shared.plugins import installed_domains


def list_domains() -> None:
    """List installed domains with their versions, readers, tasks and heads."""
    domains = installed_domains()
    table = Table(title="installed HFM domains")
    for column in ("domain", "package", "version", "readers", "tasks", "heads"):
        table.add_column(column)
    for domain in domains:
        try:
            plugin = domain.load()
            table.add_row(
                domain.name,
                domain.distribution,
                domain.version,
                ", ".join(plugin.readers) or "-",
                ", ".join(plugin.tasks) or "-",
                ", ".join(plugin.heads) or "-",
            )
        except HFMError as error:
            table.add_row(domain.name, domain.distribution, domain.version, f"[red]{error}[/]", "", "")
    Console(width=200).print(table)
    if not domains:
        Console().print("no domain installed: pip install ./projects/<domain> (see README.md)")
