"""`hfm quickstart`: every installed domain end to end on real data that ships with the registries.

Each domain contributes a `quickstart` hook (in its `DomainPlugin.hooks`) that curates, pretrains briefly, probes or
fine-tunes, evaluates against its baseline and exports; the core runs them in turn and writes one report folder.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.plugins import installed_domains

# Steps that run after every domain's own quickstart (e.g. hfm-synergy's transfer experiment):
# name = "module:function", the function takes a QuickstartContext and returns a QuickstartResult.
AFTER_GROUP = "hfm.quickstart"


@dataclass
class QuickstartContext:
    out_dir: Path
    smoke: bool = False  # smallest form, for CI
    seed: int = 0
    show_progress: bool = True


@dataclass
class QuickstartResult:
    domain: str
    markdown: str  # the domain's section of index.md (tables, links to PNGs in out_dir)
    metrics: dict[str, Any] = field(default_factory=dict)


_RELATIVE_LINK = re.compile(r"\]\((?!https?:|/|#)([^)]+)\)")


def _under(folder: str, markdown: str) -> str:
    """A step writes links relative to its own folder; index.md lies one level up."""
    return _RELATIVE_LINK.sub(lambda m: f"]({folder}/{m.group(1)})", markdown)


def run_quickstart(context: QuickstartContext, only: list[str] | None = None) -> tuple[Path, list[str]]:
    """Run every selected domain's quickstart; returns the report's index.md and the domains that failed."""
    context.out_dir.mkdir(parents=True, exist_ok=True)
    sections, metrics, failed = [], {}, []
    for domain in installed_domains():
        if only and domain.name not in only:
            continue
        plugin = domain.load()
        hook = plugin.hooks.get("quickstart")
        if hook is None:
            sections.append(f"## {domain.name}\n\n{domain.distribution} {domain.version} has no quickstart step yet.\n")
            continue
        domain_dir = context.out_dir / domain.name
        domain_dir.mkdir(parents=True, exist_ok=True)
        try:
            result: QuickstartResult = hook(
                QuickstartContext(domain_dir, context.smoke, context.seed, context.show_progress)
            )
        except Exception as error:  # one domain failing must not hide the others' results
            failed.append(domain.name)
            sections.append(f"## {domain.name}\n\nFAILED: {type(error).__name__}: {error}\n")
            (domain_dir / "error.txt").write_text(traceback.format_exc())
            continue
        sections.append(_under(domain.name, result.markdown))
        metrics[domain.name] = result.metrics
    for step in sorted(entry_points(group=AFTER_GROUP), key=lambda ep: ep.name):
        if only and step.name not in only:
            continue
        step_dir = context.out_dir / step.name
        try:
            result = step.load()(QuickstartContext(step_dir, context.smoke, context.seed, context.show_progress))
        except Exception as error:
            failed.append(step.name)
            sections.append(f"## {step.name}\n\nFAILED: {type(error).__name__}: {error}\n")
            step_dir.mkdir(parents=True, exist_ok=True)
            (step_dir / "error.txt").write_text(traceback.format_exc())
            continue
        sections.append(_under(step.name, result.markdown))
        metrics[step.name] = result.metrics
    index = context.out_dir / "index.md"
    header = "# HFM quickstart report\n\n" + ("(smoke run: smallest settings)\n\n" if context.smoke else "")
    write_atomic(index, header + "\n".join(sections))
    write_atomic(context.out_dir / "metrics.json", dump_json(metrics))
    return index, failed
