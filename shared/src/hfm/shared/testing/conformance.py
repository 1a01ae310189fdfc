"""The domain conformance kit: what every domain package must offer, checked the same way for each.

Each check returns a list of `Violation`s rather than asserting, so a domain's test can pin the exact list of what
it does not yet conform to (and fails when that list changes either way), while a new domain started from
`projects/_template` must pass with none:

    from hfm.shared.testing.conformance import check_domain
    assert check_domain(plugin, package_dir=Path(hfm.mydomain.__file__).parent) == []
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from hfm.shared.plugins import DomainPlugin

# The verbs of `hfm <domain>` and the options each must take where they mean the same thing everywhere.
REQUIRED_VERBS = ("curate", "pretrain", "finetune", "predict", "evaluate", "benchmark")
TRAINING_OPTIONS = ("--out", "--steps", "--batch-size", "--lr", "--seed", "--set", "--model")
VERB_OPTIONS: dict[str, tuple[str, ...]] = {
    "curate": ("--out",),
    "pretrain": TRAINING_OPTIONS,
    "finetune": (*TRAINING_OPTIONS, "--init"),
    "predict": ("--out", "--init"),
    "evaluate": ("--out",),
    "benchmark": ("--out",),
}
# One module per concern, the same names in every domain (hfm/<domain>/<module>.py or a package of that name).
REQUIRED_MODULES = (
    "plugin",
    "readers",
    "contract",
    "curate",
    "format",
    "data",
    "tokenizer",
    "models",
    "tasks",
    "baselines",
    "experiments",
    "benchmarks",
    "quickstart",
    "synergy",
    "cli",
)
# Beside them a domain may have only these (synthetic data asked for by name, the train-and-export shortcuts, its
# metrics, what `predict` runs); anything else is moved into the module of its concern (a package of
# that name when it grows: `readers/nordic.py`), so a reader finds the same thing in the same place in every domain.
OPTIONAL_MODULES = ("synthetic", "training", "metrics", "predict")
REQUIRED_HOOKS = ("quickstart", "synergy")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, order=True)
class Violation:
    check: str  # "plugin", "cli", "layout", "tokenizer", "curation"
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.detail}"


def check_domain(plugin: DomainPlugin, package_dir: Path | None = None) -> list[Violation]:
    """Every structural check of one domain: the plugin object, its CLI and (given its folder) its module layout."""
    found = check_plugin(plugin) + check_cli(plugin)
    if package_dir is not None:
        found += check_layout(package_dir)
    return sorted(found)


def check_plugin(plugin: DomainPlugin) -> list[Violation]:
    found: list[Violation] = []
    if not _NAME.match(plugin.name):
        found.append(Violation("plugin", f"name {plugin.name!r} is not a lowercase identifier"))
    if not plugin.summary.strip():
        found.append(Violation("plugin", "summary is empty"))
    for hook in REQUIRED_HOOKS:
        if hook not in plugin.hooks:
            found.append(Violation("plugin", f"no {hook!r} hook"))
    from hfm.shared.train.task import available_tasks

    registered = set(available_tasks())
    for task in plugin.tasks:
        target = plugin.task_factories.get(task)
        if target is None and task not in registered:
            found.append(Violation("plugin", f"task {task!r} is listed but not in the task registry"))
        elif target is not None and not _importable(target):
            found.append(Violation("plugin", f"task {task!r}: {target} cannot be imported"))
    for name, target in plugin.benchmarks.items():
        if not _importable(target):
            found.append(Violation("plugin", f"benchmark {name!r}: {target} cannot be imported"))
    for name, factory in plugin.dataset_formats.items():
        try:
            dataset_format = factory()
        except Exception as error:  # a broken reader must show up as a violation, not stop the kit
            found.append(Violation("plugin", f"dataset format {name!r} fails to build: {error}"))
            continue
        for method in ("count", "iter_samples", "metadata"):
            if not callable(getattr(dataset_format, method, None)):
                found.append(Violation("plugin", f"dataset format {name!r} has no {method}()"))
    return found


def _importable(target: str) -> bool:
    from importlib import import_module

    module, _, attr = target.partition(":")
    try:
        return callable(getattr(import_module(module), attr))
    except (ImportError, AttributeError):
        return False


def check_cli(plugin: DomainPlugin) -> list[Violation]:
    """`hfm <domain> VERB --help` answers for every verb and names the shared options."""
    if plugin.cli is None:
        return [Violation("cli", "no command group")]
    app = plugin.cli()
    group = typer.main.get_command(app)
    if not hasattr(group, "commands"):  # typer vendors its own click: test the shape, not the class
        return [Violation("cli", "the command group is a single command")]
    found: list[Violation] = []
    runner = CliRunner()
    for verb in REQUIRED_VERBS:
        command = group.commands.get(verb)
        if command is None:
            found.append(Violation("cli", f"no {verb!r} command"))
            continue
        result = runner.invoke(app, [verb, "--help"])
        if result.exit_code != 0:
            found.append(Violation("cli", f"`{verb} --help` exits {result.exit_code}"))
            continue
        names = {opt for param in command.params for opt in getattr(param, "opts", [])}
        for option in VERB_OPTIONS[verb]:
            if option not in names:
                found.append(Violation("cli", f"{verb!r} lacks {option}"))
    return found


def check_layout(package_dir: Path) -> list[Violation]:
    """The shared module names are present (as `name.py` or a package `name/`), and no other top-level module is."""
    present = {p.stem for p in package_dir.glob("*.py")} | {
        p.name for p in package_dir.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }
    found = [Violation("layout", f"no module {name!r}") for name in REQUIRED_MODULES if name not in present]
    allowed = {*REQUIRED_MODULES, *OPTIONAL_MODULES, "__init__", "__main__"}
    found += [Violation("layout", f"odd module {name!r}") for name in sorted(present - allowed)]
    return found


def check_tokenizer_round_trip(tokenizer: Any, sample: Any, atol: float = 0.0) -> list[Violation]:
    """patchify then unpatchify gives the sample back; coordinates give one row per patch."""
    import torch

    batch = torch.as_tensor(sample).unsqueeze(0)
    shape = tuple(batch.shape[1:])
    patches = tokenizer.patchify(batch)
    found: list[Violation] = []
    if patches.ndim != 3 or patches.shape[-1] != tokenizer.patch_dim:
        found.append(
            Violation("tokenizer", f"patchify gives {tuple(patches.shape)}, not (1, N, {tokenizer.patch_dim})")
        )
        return found
    back = tokenizer.unpatchify(patches, shape)
    if tuple(back.shape) != tuple(batch.shape) or not torch.allclose(back, batch, atol=atol, rtol=0):
        found.append(Violation("tokenizer", "unpatchify(patchify(x)) differs from x"))
    coords = tokenizer.coordinates(shape)
    if tuple(coords.shape) != (patches.shape[1], tokenizer.coord_dims):
        found.append(
            Violation("tokenizer", f"coordinates are {tuple(coords.shape)}, not ({patches.shape[1]}, coord_dims)")
        )
    return found


def check_curation(
    curate: Callable[[Path, Path], Any], raw: Path, work: Path, expected_inputs: int | None = None
) -> list[Violation]:
    """Curating `raw` twice gives byte-identical folders, and inputs = written + quarantined in the summary.

    `curate(raw, out)` runs the domain's curation and returns its summary (an object or dict with `inputs`,
    `written` and `quarantined`, the last a count or a list of records).
    """
    first, second = work / "first", work / "second"
    summary = curate(raw, first)
    curate(raw, second)
    found: list[Violation] = []
    inputs, written, quarantined = (_count(summary, key) for key in ("inputs", "written", "quarantined"))
    if inputs != written + quarantined:
        found.append(Violation("curation", f"inputs {inputs} != written {written} + quarantined {quarantined}"))
    if expected_inputs is not None and inputs != expected_inputs:
        found.append(Violation("curation", f"{inputs} inputs counted, {expected_inputs} in the raw folder"))
    a, b = _digests(first), _digests(second)
    if a != b:
        differing = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        found.append(Violation("curation", f"re-run differs in {', '.join(differing[:5])}"))
    return found


def _count(summary: Any, key: str) -> int:
    value = summary[key] if isinstance(summary, dict) else getattr(summary, key)
    return len(value) if isinstance(value, Iterable) and not isinstance(value, str | bytes) else int(value)


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def known_gaps(plugin: DomainPlugin, package: Any) -> list[str]:
    """The kit's findings for an imported domain package, as text, for a test to compare with its pinned list."""
    return [str(v) for v in check_domain(plugin, Path(package.__file__).parent)]
