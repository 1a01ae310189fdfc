"""The benchmark harness: finds every benchmark in the installed packages, runs it, writes JSON and Markdown.

A benchmark is a zero-argument function returning a list of `hfm.shared.eval.figures.Figure`: one per (task,
metric), hfm against its strongest baseline on the same test units, with the paired 95% interval of the difference
(the other baselines in `others`). A dict with every field of a Figure is read as one. A legacy dict (name, value,
baseline, unit, command; optional goal and notes) is still accepted, so domains convert one by one, but it has no
direction and no interval: it is flagged `legacy` and never counted as a win, tie or loss.

The core's benchmarks are listed in CORE_BENCHMARKS; a domain package adds its own through the entry-point group
`hfm.benchmarks` (name = "module:function") in its pyproject.toml.

One run, one file: a run of every benchmark writes `results.{json,md}` whole, from one commit; a run of some
(`--only`) writes `partial/<names>.{json,md}` beside them and never touches results.json, so a table never mixes
runs. Every figure carries the commit, machine, 1-min load and date of the moment its benchmark finished.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import socket
import subprocess
import time
import traceback
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from importlib import import_module
from importlib.metadata import PackageNotFoundError, entry_points, version
from pathlib import Path
from typing import Any

from hfm.shared.errors import HFMError
from hfm.shared.eval.figures import Figure, ratio
from hfm.shared.eval.report import (
    difference_with_interval,
    headline_figures,
    headline_table,
    number,
    outcome_summary,
    sample_size,
)
from hfm.shared.jsonio import dump_json, write_atomic

BENCHMARK_GROUP = "hfm.benchmarks"
CORE_BENCHMARKS = {
    "trainer-overhead": "hfm.shared.train.overhead:trainer_overhead",
    "curation-scale": "hfm.shared.curation_bench:curation_scale",
}
LEGACY_KEYS = ("name", "value", "baseline", "unit", "command")
FIGURE_FIELDS = tuple(f.name for f in fields(Figure) if f.default is MISSING and f.default_factory is MISSING)


@dataclass(frozen=True)
class Benchmark:
    name: str
    target: str  # "module:function"
    origin: str  # "core" or the distribution that declares it

    def load(self) -> Callable[[], list[Figure | dict[str, Any]]]:
        module, _, attr = self.target.partition(":")
        return getattr(import_module(module), attr)


def discover() -> list[Benchmark]:
    found = {name: Benchmark(name, target, "core") for name, target in CORE_BENCHMARKS.items()}
    for ep in entry_points(group=BENCHMARK_GROUP):
        if ep.name not in found:
            found[ep.name] = Benchmark(ep.name, ep.value, ep.dist.name if ep.dist else "unknown")
    from hfm.shared.plugins import domain_targets

    for name, (target, domain) in domain_targets("benchmarks").items():
        found.setdefault(name, Benchmark(name, target, f"hfm-{domain}"))
    return [found[name] for name in sorted(found)]


def commit() -> str:
    """`git describe --always --dirty` of the checkout this harness runs from, else hfm-shared's version."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=12"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        if described:
            return described
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"hfm-shared {version('hfm-shared')} (no git checkout)"
    except PackageNotFoundError:
        return "unknown (no git checkout, hfm-shared not installed)"


def machine() -> dict[str, Any]:
    return {"hostname": socket.gethostname(), "platform": platform.platform(), "cpus": os.cpu_count()}


def stamp(commit_id: str, host: str) -> dict[str, Any]:
    """What every figure carries: the commit, machine and the 1-min load and date when its benchmark finished."""
    return {
        "commit": commit_id,
        "machine": host,
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def to_record(item: Figure | dict[str, Any], benchmark: str) -> dict[str, Any]:
    """One figure as the JSON record results.json holds; a legacy dict is flagged and has no outcome."""
    if isinstance(item, dict) and all(key in item for key in FIGURE_FIELDS):
        try:
            item = Figure.from_dict(item)
        except (TypeError, ValueError) as error:
            reason = str(error) if str(error).startswith("figure ") else f"figure {item.get('name', '?')!r}: {error}"
            raise HFMError(f"benchmark {benchmark}: {reason}") from error
    if isinstance(item, Figure):
        return {"benchmark": benchmark, "legacy": False, **item.as_dict()}
    if not isinstance(item, dict):
        raise HFMError(f"benchmark {benchmark}: returned a {type(item).__name__}, not a Figure")
    missing = [key for key in LEGACY_KEYS if key not in item]
    if missing:
        raise HFMError(f"benchmark {benchmark}: figure {item.get('name', '?')!r} lacks {', '.join(missing)}")
    return {
        "benchmark": benchmark,
        "task": f"{benchmark} (legacy)",
        "goal": "",
        "notes": "",
        **item,
        "legacy": True,
        "value": _finite_or_none(item["value"]),
        "baseline": _finite_or_none(item["baseline"]),
        "ratio": ratio(item["value"], item["baseline"]),
        "higher_is_better": None,
        "interval": [None, None],
        "outcome": "no interval",
    }


def run_benchmarks(only: list[str] | None = None) -> dict[str, Any]:
    """Run the selected benchmarks (all by default); a failing one is reported with its error, not hidden."""
    available = discover()
    if only:
        unknown = sorted(set(only) - {b.name for b in available})
        if unknown:
            raise HFMError(f"unknown benchmark {unknown[0]!r}; available: {', '.join(b.name for b in available)}")
        available = [b for b in available if b.name in only]
    commit_id, host = commit(), machine()
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    figures: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    seconds: dict[str, float] = {}
    for benchmark in available:
        start = time.perf_counter()
        try:
            items = list(benchmark.load()())
            when = stamp(commit_id, host["hostname"])
            for item in items:  # one malformed figure is reported with its reason; the benchmark's others stay
                try:
                    figures.append(to_record(item, benchmark.name) | {"origin": benchmark.origin} | when)
                except HFMError as error:
                    failures.append({"benchmark": benchmark.name, "error": f"HFMError: {error}"} | when)
        except Exception as error:
            failures.append(
                {"benchmark": benchmark.name, "error": f"{type(error).__name__}: {error}"}
                | stamp(commit_id, host["hostname"])
            )
            traceback.print_exc()
        seconds[benchmark.name] = round(time.perf_counter() - start, 1)
        print(f"{benchmark.name}: {seconds[benchmark.name]} s")
    run = {
        "commit": commit_id,
        "started": started,
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": host,
        "benchmarks": [b.name for b in available],
        "seconds": seconds,
        "only": sorted(only) if only else None,
    }
    ended_on = commit()
    if ended_on != commit_id:  # the tree changed under the run: say so rather than claim one commit
        run["commit_at_end"] = ended_on
    return {"run": run, "figures": figures, "failures": failures}


def bench_folder(domain: str) -> Path:
    """Where a domain's benchmark keeps what it writes beside its figures (run folders, whole reports):
    `$HFM_BENCH_OUT/<domain>`, by default benchmarks/<domain> (ignored by git); `hfm <domain> benchmark --out OUT`
    sets HFM_BENCH_OUT to OUT unless it is set."""
    return Path(os.environ.get("HFM_BENCH_OUT", "benchmarks")) / domain


def result_paths(results: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """results.{json,md} for a whole run; partial/<names>.{json,md} for a run with --only."""
    out_dir = Path(out_dir)
    only = results["run"].get("only")
    if not only:
        return out_dir / "results.json", out_dir / "results.md"
    stem = "+".join(only)
    return out_dir / "partial" / f"{stem}.json", out_dir / "partial" / f"{stem}.md"


def write_results(results: dict[str, Any], out_dir: str | Path) -> tuple[Path, Path]:
    """Write the run whole to its own pair of files (see result_paths); nothing is merged with earlier runs."""
    json_path, md_path = result_paths(results, out_dir)
    write_atomic(json_path, dump_json(results))
    write_atomic(md_path, to_markdown(results))
    return json_path, md_path


def run_domain_benchmarks(
    domain: str, declared: list[str], only: list[str] | None, out_dir: str | Path
) -> tuple[dict[str, Any], Path]:
    """`hfm <domain> benchmark`: the domain's `declared` benchmarks (or those of them in `only`) through the harness,
    written as `tools/bench.py --only` writes them (OUT/partial/); run folders under `bench_folder(domain)`, which is
    OUT/<domain> unless HFM_BENCH_OUT is set. Returns the results and the markdown's path."""
    unknown = sorted(set(only or ()) - set(declared))
    if unknown:
        raise HFMError(f"--only {unknown[0]!r}: not a {domain} benchmark; one of {', '.join(sorted(declared))}")
    os.environ.setdefault("HFM_BENCH_OUT", str(out_dir))
    results = run_benchmarks(only=sorted(only or declared))
    return results, write_results(results, out_dir)[1]


def to_markdown(results: dict[str, Any]) -> str:
    run = results["run"]
    records = results["figures"]
    figures = [Figure.from_dict(r) for r in records if not r.get("legacy")]
    measured = [f for f in figures if f.reference == "measurement"]
    legacy = [r for r in records if r.get("legacy")]
    host = run["machine"]
    lines = ["# Benchmarks", ""]
    if run.get("only"):
        lines += [f"**Partial run** (`--only {' '.join(run['only'])}`): not the whole benchmark suite.", ""]
    lines += [
        f"One run of commit `{run['commit']}` on {host['hostname']} ({host['cpus']} CPUs, {host['platform']}), "
        f"{run['started']} to {run['finished']}: "
        + ", ".join(f"{name} ({run.get('seconds', {}).get(name, '?')} s)" for name in run["benchmarks"])
        + "."
        + (
            f" The checkout changed during the run (`{run['commit_at_end']}` at its end)."
            if "commit_at_end" in run
            else ""
        ),
        "",
        "A figure is a **win**, **tie** or **loss** by the paired 95% interval of hfm - baseline, never by its point "
        'values (docs/models.md, "How to read a figure"). ↑: higher is better, ↓: lower is better.',
        "",
        f"**Headline**: {outcome_summary(headline_figures(measured))}.  ",
        f"**All figures**: {outcome_summary(figures)}"
        + (f"; legacy, without direction or interval: {len(legacy)}." if legacy else "."),
        "",
        "## Headline",
        "",
        *headline_table(measured),
        "",
        "## All figures",
        "",
        "| benchmark | figure | | value | baseline | others | n | hfm - baseline [95% interval] | outcome | "
        "load | command |",
        "|---|---|---|---:|---|---|---|---|---|---:|---|",
    ]
    for r in records:
        if r.get("reference") == "consistency check":
            continue
        lines.append(_full_row(r))
    checks = [r for r in records if r.get("reference") == "consistency check"]
    if checks:
        lines += [
            "",
            "## Consistency checks (never counted)",
            "",
            "Their reference is not a measurement (theoretical onsets, another algorithm's output): agreement shows "
            "the pipeline is sane, not that hfm is better.",
            "",
            "| benchmark | figure | | value | reference | n | hfm - reference [95% interval] | command |",
            "|---|---|---|---:|---|---|---|---|",
        ]
        for r in checks:
            f = Figure.from_dict(r)
            lines.append(
                f"| {r['benchmark']} | {f.name} | {f.arrow} | {_with_unit(f.value, f.unit)} | {f.baseline_name} "
                f"{number(f.baseline)} | {sample_size(f)} | {_interval_text(f)} | `{f.command}` |"
            )
    weaker = [(f, f.stronger_others()) for f in figures if f.reference == "measurement" and f.stronger_others()]
    if weaker:
        lines += ["", "## Warnings", ""]
        lines += [
            f"- **{f.name}**: compared with {f.baseline_name} ({number(f.baseline)}), but {', '.join(names)} "
            f"scored better in this run: the headline should name the strongest baseline."
            for f, names in weaker
        ]
    notes = [r for r in records if r.get("notes") or r.get("goal")]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [
            f"- **{r['name']}**: "
            + "; ".join(x for x in (r.get("notes"), f"goal {r['goal']}" if r.get("goal") else "") if x)
            for r in notes
        ]
    if results["failures"]:
        lines += ["", "## Failures", ""] + [f"- {f['benchmark']}: {f['error']}" for f in results["failures"]]
    return "\n".join(lines) + "\n"


def _interval_text(f: Figure) -> str:
    return f"{difference_with_interval(f)}, {f.interval_method}" if f.interval_method else difference_with_interval(f)


def _full_row(r: dict[str, Any]) -> str:
    load = number(r.get("load_average_1min"), ".2f")
    if r.get("legacy"):
        return (
            f"| {r['benchmark']} | {r['name']} | ? | {_with_unit(r['value'], r['unit'])} | {number(r['baseline'])} | | "
            f"| ratio {number(r['ratio'], '.3f')} (no interval) | legacy | {load} | `{r['command']}` |"
        )
    f = Figure.from_dict(r)
    others = ", ".join(f"{name} {number(v)}" for name, v in f.others.items())
    return (
        f"| {r['benchmark']} | {f.name} | {f.arrow} | {_with_unit(f.value, f.unit)} | {f.baseline_name} "
        f"{number(f.baseline)} | {others} | {sample_size(f)} | {_interval_text(f)} | **{f.outcome}** | {load} | "
        f"`{f.command}` |"
    )


def _with_unit(value: float | None, unit: str) -> str:
    return f"{number(value)} {unit}".strip()


def _finite_or_none(x: Any) -> float | None:
    """JSON has no NaN: a legacy figure's undefined number is written as null."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
