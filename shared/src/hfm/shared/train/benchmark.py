"""The benchmark harness: finds every benchmark in the installed packages, runs it, writes JSON and Markdown.

A benchmark is a zero-argument function returning a list of figures. Each figure is measured side by side with its
baseline in the same run (same machine, same moment) and reported as a ratio:

    {"name": ..., "value": ..., "baseline": ..., "ratio": value / baseline, "unit": ..., "command": ...}

optionally with "goal" (a human-readable target such as "< 1.03") and "notes". The core's benchmarks are listed in
CORE_BENCHMARKS; a domain package adds its own through the entry-point group `hfm.benchmarks`
(name = "module:function") in its pyproject.toml.

A run of some benchmarks only (`--only`) replaces their figures in an existing results.json and keeps the others;
every figure names the run (date, machine, load) that measured it, so a table never mixes runs silently.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from hfm.shared.errors import HFMError
from hfm.shared.jsonio import dump_json, write_atomic

BENCHMARK_GROUP = "hfm.benchmarks"
CORE_BENCHMARKS = {"trainer-overhead": "hfm.shared.train.overhead:trainer_overhead"}
FIGURE_KEYS = ("name", "value", "baseline", "ratio", "unit", "command")


@dataclass(frozen=True)
class Benchmark:
    name: str
    target: str  # "module:function"
    origin: str  # "core" or the distribution that declares it

    def load(self) -> Callable[[], list[dict[str, Any]]]:
        module, _, attr = self.target.partition(":")
        return getattr(import_module(module), attr)


def discover() -> list[Benchmark]:
    found = {name: Benchmark(name, target, "core") for name, target in CORE_BENCHMARKS.items()}
    for ep in entry_points(group=BENCHMARK_GROUP):
        if ep.name not in found:
            found[ep.name] = Benchmark(ep.name, ep.value, ep.dist.name if ep.dist else "unknown")
    return [found[name] for name in sorted(found)]


def check_figure(figure: dict[str, Any], benchmark: str) -> dict[str, Any]:
    missing = [key for key in FIGURE_KEYS if key not in figure]
    if missing:
        raise HFMError(f"benchmark {benchmark}: figure {figure.get('name', '?')!r} lacks {', '.join(missing)}")
    return {"benchmark": benchmark, **figure}


def run_benchmarks(only: list[str] | None = None) -> dict[str, Any]:
    """Run the selected benchmarks (all by default); a failing one is reported with its error, not hidden."""
    available = discover()
    if only:
        unknown = sorted(set(only) - {b.name for b in available})
        if unknown:
            raise HFMError(f"unknown benchmark {unknown[0]!r}; available: {', '.join(b.name for b in available)}")
        available = [b for b in available if b.name in only]
    figures: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for benchmark in available:
        start = time.perf_counter()
        try:
            for figure in benchmark.load()():
                figures.append(check_figure(figure, benchmark.name) | {"origin": benchmark.origin})
        except Exception as error:
            failures.append({"benchmark": benchmark.name, "error": f"{type(error).__name__}: {error}"})
            traceback.print_exc()
        print(f"{benchmark.name}: {time.perf_counter() - start:.1f} s")
    run = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "benchmarks": [b.name for b in available],
    }
    stamp = {"run": run["date"]}
    return {"runs": [run], "figures": [f | stamp for f in figures], "failures": [f | stamp for f in failures]}


def merge_results(previous: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`new` measured some benchmarks again: their figures and failures replace the previous ones, others stay."""
    previous = _with_runs(previous)
    rerun = {name for run in new["runs"] for name in run["benchmarks"]}
    kept = [f for f in previous.get("figures", []) if f["benchmark"] not in rerun]
    figures = sorted(kept + new["figures"], key=lambda f: f["benchmark"])
    failures = [f for f in previous.get("failures", []) if f["benchmark"] not in rerun] + new["failures"]
    still_cited = {f["run"] for f in figures} | {f.get("run") for f in failures}
    runs = [run for run in previous["runs"] if run["date"] in still_cited] + new["runs"]
    return {"runs": runs, "figures": figures, "failures": failures}


def _with_runs(results: dict[str, Any]) -> dict[str, Any]:
    """A results.json written before runs were recorded, as one run named by its date for all its figures."""
    if "runs" in results:
        return results
    benchmarks = sorted({f["benchmark"] for f in results.get("figures", [])})
    return {
        "runs": [{"date": results["date"], "machine": results["machine"], "benchmarks": benchmarks}],
        "figures": [f | {"run": results["date"]} for f in results.get("figures", [])],
        "failures": [f | {"run": results["date"]} for f in results.get("failures", [])],
    }


def to_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Each ratio is value / baseline, measured side by side in the same run. Runs:",
        "",
    ]
    for run in results["runs"]:
        machine = run["machine"]
        lines.append(
            f"- {run['date']} on {machine['hostname']} ({machine['cpus']} CPUs, 1-min load "
            f"{_number(machine['load_average_1min'], '.2f')}): {', '.join(run['benchmarks'])}"
        )
    lines += [
        "",
        "| benchmark | figure | value | baseline | ratio | unit | goal | command |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for f in results["figures"]:
        lines.append(
            f"| {f['benchmark']} | {f['name']} | {_number(f['value'])} | {_number(f['baseline'])} | "
            f"**{_number(f['ratio'], '.3f')}** | "
            f"{f['unit']} | {f.get('goal', '')} | `{f['command']}` |"
        )
    notes = [f for f in results["figures"] if f.get("notes")]
    if notes:
        lines += ["", "## Notes", ""] + [f"- **{f['name']}**: {f['notes']}" for f in notes]
    if results["failures"]:
        lines += ["", "## Failures", ""] + [f"- {f['benchmark']}: {f['error']}" for f in results["failures"]]
    return "\n".join(lines) + "\n"


def _number(value: Any, spec: str = ".4g") -> str:
    """Numbers formatted; anything else (None for unknown, a string) shown as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return format(value, spec)
    return "n/a" if value is None else str(value)


def write_results(results: dict[str, Any], out_dir: str | Path, merge: bool = False) -> tuple[Path, Path]:
    """Write results.json and results.md; with `merge`, into the figures already there (see merge_results)."""
    out_dir = Path(out_dir)
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    if merge and json_path.exists():
        results = merge_results(json.loads(json_path.read_text()), results)
    write_atomic(json_path, dump_json(results))
    write_atomic(md_path, to_markdown(results))
    return json_path, md_path
