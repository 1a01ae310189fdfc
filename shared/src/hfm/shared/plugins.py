"""Domain discovery through the `hfm.domains` entry-point group.

A domain package declares, in its pyproject.toml,

    [project.entry-points."hfm.domains"]
    seismic = "hfm.seismic.plugin:plugin"

where `plugin` is a `DomainPlugin`. The core, the CLI, the quickstart and the synergy experiments iterate over what
is installed, never over a hard-coded list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hfm.shared.arraystore import ArrayStoreFormat
from hfm.shared.errors import HFMError
from hfm.shared.formats import DatasetFormat

GROUP = "hfm.domains"


@dataclass(frozen=True)
class DomainPlugin:
    """What a domain offers to the core. Lists name only features the package really implements."""

    name: str
    summary: str
    readers: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    dataset_formats: Mapping[str, Callable[[], DatasetFormat]] = field(default_factory=dict)
    cli: Callable[[], Any] | None = None  # returns a typer.Typer mounted as `hfm <name>`
    hooks: Mapping[str, Callable[..., Any]] = field(default_factory=dict)  # e.g. "quickstart", "embed"


@dataclass(frozen=True)
class InstalledDomain:
    name: str
    distribution: str
    version: str
    entry_point: EntryPoint
    summary: str = ""  # the distribution's one-line description, known without importing the domain

    def load(self) -> DomainPlugin:
        try:
            plugin = self.entry_point.load()
        except Exception as error:
            raise HFMError(f"domain {self.name!r} ({self.distribution}) failed to load: {error}") from error
        if callable(plugin) and not isinstance(plugin, DomainPlugin):
            plugin = plugin()
        if not isinstance(plugin, DomainPlugin):
            raise HFMError(f"entry point {self.entry_point.value} is not a DomainPlugin")
        return plugin


def installed_domains() -> list[InstalledDomain]:
    """Installed domains, sorted by name, without importing them."""
    found = []
    for ep in entry_points(group=GROUP):
        dist = ep.dist
        found.append(
            InstalledDomain(
                name=ep.name,
                distribution=dist.metadata["Name"] if dist else "?",
                version=dist.version if dist else "?",
                entry_point=ep,
                summary=(dist.metadata["Summary"] or "") if dist else "",
            )
        )
    return sorted(found, key=lambda d: d.name)


def load_domains() -> dict[str, DomainPlugin]:
    return {d.name: d.load() for d in installed_domains()}


BUILTIN_FORMATS: dict[str, Callable[[], DatasetFormat]] = {"hfm-arrays": ArrayStoreFormat}


def find_format(name: str) -> DatasetFormat:
    """The reader of a dataset format, from the core or any installed domain."""
    if name in BUILTIN_FORMATS:
        return BUILTIN_FORMATS[name]()
    known = list(BUILTIN_FORMATS)
    for domain in installed_domains():
        plugin = domain.load()
        if name in plugin.dataset_formats:
            return plugin.dataset_formats[name]()
        known += list(plugin.dataset_formats)
    raise HFMError(f"no installed package reads dataset format {name!r} (known: {', '.join(sorted(known))})")
