"""Site profiles: what the launcher must know about a cluster, as YAML data.

Profiles shipped with the package live in `hfm/shared/launch/sites/`. A user adds or overrides one without touching
the package by dropping `NAME.yaml` into `~/.config/hfm/sites/` (or `$XDG_CONFIG_HOME/hfm/sites/`) or into a folder
named in `HFM_SITES_PATH` (colon-separated, searched first). A user file may say `extends: juwels-booster` and give
only the fields that differ.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hfm.shared.errors import HFMError

_TIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}:\d{2}$")


class SiteProfile(BaseModel):
    """One cluster (or this machine): partition, hardware per node, how GPUs are asked for, set-up lines."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    scheduler: Literal["slurm", "local"] = "slurm"
    partition: str | None = None
    gpus_per_node: int = Field(0, ge=0)
    # Processes per node when the node has no GPU to give each process (CPU runs); with GPUs, one per GPU.
    processes_per_node: int | None = Field(None, ge=1)
    cpus_per_task: int | None = Field(None, ge=1)
    gpu_request: Literal["gres", "gpus-per-node", "none"] = "gres"
    arch: Literal["x86_64", "aarch64"] | None = None
    account_env: str | None = None
    account_required: bool = False
    interconnect_suffix: str = ""
    default_time: str = "01:00:00"
    max_time: str | None = None
    max_nodes: int | None = Field(None, ge=1)
    # Seconds before the time limit at which SLURM sends USR1 to the batch shell, so the trainer can checkpoint.
    signal_seconds: int = Field(300, ge=10)
    max_requeues: int = Field(20, ge=0)
    port_base: int = Field(29500, ge=1024, le=64000)
    setup: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    sbatch_extra: list[str] = Field(default_factory=list)
    # What a user should verify against the site's current documentation before the first run.
    check: list[str] = Field(default_factory=list)

    @field_validator("default_time", "max_time")
    @classmethod
    def _slurm_time(cls, value: str | None) -> str | None:
        if value is not None and not _TIME.match(value):
            raise ValueError(f"{value!r} is not a SLURM time [D-]HH:MM:SS")
        return value

    def processes_on_node(self, gpus_per_node: int | None = None) -> int:
        gpus = self.gpus_per_node if gpus_per_node is None else gpus_per_node
        if gpus > 0:
            return gpus
        return self.processes_per_node or 1


def site_dirs() -> list[Path]:
    """Folders searched for user profiles, first match wins; the package's own profiles come after them."""
    dirs = [Path(p).expanduser() for p in os.environ.get("HFM_SITES_PATH", "").split(os.pathsep) if p]
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    dirs.append(config_home / "hfm" / "sites")
    return dirs


def _packaged(name: str) -> str | None:
    entry = resources.files("hfm.shared.launch").joinpath("sites", f"{name}.yaml")
    return entry.read_text(encoding="utf-8") if entry.is_file() else None


def _find(name: str) -> tuple[str, str] | None:
    """(text, where) of the profile file called NAME.yaml, user folders first."""
    for folder in site_dirs():
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path.read_text(encoding="utf-8"), str(path)
    text = _packaged(name)
    return (text, f"hfm.shared.launch/sites/{name}.yaml") if text is not None else None


def list_sites() -> list[str]:
    names = {
        p.stem for p in resources.files("hfm.shared.launch").joinpath("sites").iterdir() if p.name.endswith(".yaml")
    }
    for folder in site_dirs():
        if folder.is_dir():
            names |= {p.stem for p in folder.glob("*.yaml")}
    return sorted(names)


def _read(name: str, seen: tuple[str, ...]) -> dict[str, Any]:
    found = _find(name)
    if found is None:
        raise HFMError(f"unknown site {name!r}; available: {', '.join(list_sites())} (user profiles: {site_dirs()[0]})")
    text, where = found
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise HFMError(f"{where}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise HFMError(f"{where}: a site profile must be a mapping of fields")
    parent = data.pop("extends", None)
    if parent is not None:
        if parent in seen:
            raise HFMError(f"{where}: field 'extends': cycle through {' -> '.join((*seen, parent))}")
        data = {**_read(parent, (*seen, parent)), **data}
    data.setdefault("name", name)
    data["_where"] = where
    return data


def load_site(name: str) -> SiteProfile:
    """The profile called NAME, from a user folder if there is one there, else from the package."""
    data = _read(name, (name,))
    where = data.pop("_where")
    data["name"] = name
    try:
        return SiteProfile.model_validate(data)
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(p) for p in problem["loc"]) or "profile"
        raise HFMError(f"{where}: field {field!r}: {problem['msg']}") from error
