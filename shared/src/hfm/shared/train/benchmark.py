"""The benchmark harness: finds every benchmark in the installed packages, runs it, writes JSON and Markdown.

A benchmark is a zero-argument function returning a list of figures. Each figure is measured side by side with its
baseline in the same run (same machine, same moment) and reported as a ratio:

    {"name": ..., "value": ..., "baseline": ..., "ratio": value / baseline, "unit": ..., "command": ...}

optionally with "goal" (a human-readable target such as "< 1.03") and "notes". The core's benchmarks are listed in
CORE_BENCHMARKS; a domain package adds its own through the entry-point group `hfm.benchmarks`
(name = "module:function") in its pyproject.toml.
"""

from __future__ import annotations

import datetime as dt
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
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "hostname": socket.gethostname(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        },
        "figures": figures,
        "failures": failures,
    }


def to_markdown(results: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Measured {results['date']} on {results['machine']['hostname']} ({results['machine']['cpus']} CPUs, "
        f"1-min load {results['machine']['load_average_1min']}). Each ratio is value / baseline, measured side by "
        "side in the same run.",
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


def write_results(results: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    out_dir = Path(out_dir)
    json_path, md_path = out_dir / "results.json", out_dir / "results.md"
    write_atomic(json_path, dump_json(results))
    write_atomic(md_path, to_markdown(results))
    return json_path, md_path
