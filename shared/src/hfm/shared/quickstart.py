"""`hfm quickstart`: every installed domain end to end on real data that ships with the registries.

Each domain contributes a `quickstart` hook (in its `DomainPlugin.hooks`) that curates, pretrains briefly, probes or
fine-tunes, evaluates against its baseline and exports; the core runs them in turn and writes one report folder.
"""

from __future__ import annotations

import re
import shutil
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from hfm.shared.errors import HFMError
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.report import headline_table, outcome_summary
from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.plugins import installed_domains
from hfm.shared.sample_data import DataUnavailable

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
    figures: list[Figure] = field(default_factory=list)  # headline figures: shown with interval and win/tie/loss


_RELATIVE_LINK = re.compile(r"\]\((?!https?:|/|#)([^)]+)\)")


def _under(folder: str, markdown: str) -> str:
    """A step writes links relative to its own folder; index.md lies one level up."""
    return _RELATIVE_LINK.sub(lambda m: f"]({folder}/{m.group(1)})", markdown)


_MARKER = ".hfm-quickstart"  # marks a folder as the quickstart's own, safe to clear on the next run


def _fresh(folder: Path) -> Path:
    """An empty folder for one section: training runs resume from checkpoints in their folder, so a report written
    again into the same place would otherwise reuse the models of the previous report instead of training anew.
    Only a folder an earlier quickstart wrote is cleared; anything else in the way is an error, never deleted."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / _MARKER).exists():
            raise HFMError(f"{folder}: exists and was not written by hfm quickstart; choose another --out folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _MARKER).write_text("written by hfm quickstart; cleared when the quickstart runs here again\n")
    return folder


def run_quickstart(context: QuickstartContext, only: list[str] | None = None) -> tuple[Path, list[str]]:
    """Run every selected domain's quickstart; returns the report's index.md and the domains that failed."""
    context.out_dir.mkdir(parents=True, exist_ok=True)
    sections, metrics, failed = [], {}, []
    figures: list[Figure] = []
    for domain in installed_domains():
        if only and domain.name not in only:
            continue
        plugin = domain.load()
        hook = plugin.hooks.get("quickstart")
        if hook is None:
            sections.append(f"## {domain.name}\n\n{domain.distribution} {domain.version} has no quickstart step yet.\n")
            continue
        domain_dir = _fresh(context.out_dir / domain.name)
        try:
            result: QuickstartResult = hook(
                QuickstartContext(domain_dir, context.smoke, context.seed, context.show_progress)
            )
        except DataUnavailable as error:  # missing reference data is no failure: the section says how to get it
            sections.append(f"## {domain.name}\n\nskipped: {error}\n")
            metrics[domain.name] = {"skipped": str(error)}
            continue
        except Exception as error:  # one domain failing must not hide the others' results
            failed.append(domain.name)
            sections.append(f"## {domain.name}\n\nFAILED: {type(error).__name__}: {error}\n")
            (domain_dir / "error.txt").write_text(traceback.format_exc())
            continue
        sections.append(_under(domain.name, result.markdown) + figure_section(result.figures))
        metrics[domain.name] = result.metrics
        figures += result.figures
    for step in sorted(entry_points(group=AFTER_GROUP), key=lambda ep: ep.name):
        if only and step.name not in only:
            continue
        step_dir = _fresh(context.out_dir / step.name)
        try:
            result = step.load()(QuickstartContext(step_dir, context.smoke, context.seed, context.show_progress))
        except DataUnavailable as error:
            sections.append(f"## {step.name}\n\nskipped: {error}\n")
            metrics[step.name] = {"skipped": str(error)}
            continue
        except Exception as error:
            failed.append(step.name)
            sections.append(f"## {step.name}\n\nFAILED: {type(error).__name__}: {error}\n")
            (step_dir / "error.txt").write_text(traceback.format_exc())
            continue
        sections.append(_under(step.name, result.markdown) + figure_section(result.figures))
        metrics[step.name] = result.metrics
        figures += result.figures
    index = context.out_dir / "index.md"
    header = "# HFM quickstart report\n\n" + ("(smoke run: smallest settings)\n\n" if context.smoke else "")
    write_atomic(index, header + summary_section(figures, failed) + "\n".join(sections))
    write_atomic(context.out_dir / "metrics.json", dump_json(metrics))
    write_atomic(context.out_dir / "figures.json", dump_json([f.as_dict() for f in figures]))
    return index, failed


def figure_section(figures: list[Figure]) -> str:
    """A section's headline figures as in benchmarks/results.md: hfm against its strongest baseline, the paired
    interval of the difference, n and win / tie / loss."""
    if not figures:
        return ""
    lines = ["", "### Headline figures", "", f"{outcome_summary(figures)}.", "", *headline_table(figures), ""]
    return "\n".join(lines) + "\n"


def summary_section(figures: list[Figure], failed: list[str]) -> str:
    """The opening of index.md: every section's headline figures counted and tabled together."""
    lines = [
        "## Summary",
        "",
        "A figure is a **win**, **tie** or **loss** by the paired 95% interval of hfm - baseline, never by its point "
        'values; consistency checks are not counted (docs/models.md, "How to read a figure"). The quickstart\'s '
        "settings are small: `hfm bench` measures the same tasks at full size.",
        "",
        f"{outcome_summary(figures)}." if figures else "No section reported headline figures.",
    ]
    if failed:
        lines += ["", f"**Failed**: {', '.join(failed)} (their sections say why)."]
    if figures:
        lines += ["", *headline_table(figures)]
    return "\n".join(lines) + "\n\n"
