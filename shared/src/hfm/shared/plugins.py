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
from importlib import import_module
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from hfm.shared.arraystore import ArrayStoreFormat
from hfm.shared.errors import HFMError
from hfm.shared.formats import DatasetFormat

GROUP = "hfm.domains"


@dataclass(frozen=True)
class DomainPlugin:
    """What a domain offers to the core: the one typed object behind its `hfm.domains` entry point.

    Lists name only features the package really implements. Tasks and benchmarks are given here as
    "module:function" targets (imported only when used); the task registry and the benchmark harness read them from
    here, so a domain declares each once. `tasks` (the names) follows from `task_factories` when not given.
    """

    name: str
    summary: str
    readers: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    dataset_formats: Mapping[str, Callable[[], DatasetFormat]] = field(default_factory=dict)
    # The typer.Typer mounted as `hfm <name>`: "module:app" (imported only when the group is used) or a callable
    # returning it.
    cli: Callable[[], Any] | str | None = None
    # e.g. "quickstart", "synergy", "embed": "module:function" (imported when called) or the callable itself.
    hooks: Mapping[str, Callable[..., Any] | str] = field(default_factory=dict)
    # task name -> "module:factory"; a task class whose constructor takes the options dict is its own factory
    task_factories: Mapping[str, str] = field(default_factory=dict)
    benchmarks: Mapping[str, str] = field(default_factory=dict)  # benchmark name -> "module:function"
    models: tuple[str, ...] = ()  # registered model names this domain adds
    baselines: tuple[str, ...] = ()  # the classical methods and peers its benchmarks compare with

    def __post_init__(self) -> None:
        if self.task_factories and not self.tasks:
            object.__setattr__(self, "tasks", tuple(sorted(self.task_factories)))
        if isinstance(self.cli, str):
            object.__setattr__(self, "cli", _lazy_attribute(self.cli))
        lazy = {name: _lazy_function(hook) if isinstance(hook, str) else hook for name, hook in self.hooks.items()}
        object.__setattr__(self, "hooks", lazy)


def _split_target(target: str) -> tuple[str, str]:
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ValueError(f"a plugin target is 'module:attribute', got {target!r}")
    return module, attr


def _lazy_attribute(target: str) -> Callable[[], Any]:
    """A callable returning `module:attribute`, importing the module only when called."""
    module, attr = _split_target(target)

    def load() -> Any:
        return getattr(import_module(module), attr)

    load.__qualname__ = f"lazy({target})"
    return load


def _lazy_function(target: str) -> Callable[..., Any]:
    """A callable that imports `module:function` when first called and calls it with the same arguments."""
    load = _lazy_attribute(target)

    def call(*args: Any, **kwargs: Any) -> Any:
        return load()(*args, **kwargs)

    call.__qualname__ = f"lazy({target})"
    return call


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


def domain_targets(kind: str) -> dict[str, tuple[str, str]]:
    """name -> ("module:function", domain) of every installed domain's `task_factories` or `benchmarks`.

    Loads the domains (imports them); a domain that fails to load is left out here and reported where it is used.
    """
    if kind not in ("task_factories", "benchmarks"):
        raise ValueError(f"unknown kind {kind!r}")
    found: dict[str, tuple[str, str]] = {}
    for domain in installed_domains():
        try:
            plugin = domain.load()
        except HFMError:
            continue
        for name, target in getattr(plugin, kind).items():
            found.setdefault(name, (target, domain.name))
    return found
