"""Evaluation reports: Markdown tables, PNG plots (matplotlib, Agg backend: no display needed) and results.json.

The figure tables (`headline_table`, `outcome_summary`) are the one rendering of `Figure`s that both
`benchmarks/results.md` and the quickstart report use, so a figure reads the same wherever it appears.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hfm.shared.eval.figures import Figure
from hfm.shared.jsonio import dump_json, write_atomic

if TYPE_CHECKING:  # type hints only: the figure tables load without scikit-learn
    from hfm.shared.eval.efficiency import EfficiencyCurve
    from hfm.shared.eval.probes import ProbeResult

COUNTED = ("win", "tie", "loss")


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def plot_label_efficiency(curves: Sequence[EfficiencyCurve], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for curve in curves:
        x = [p.fraction * 100 for p in curve.points]
        line = axes.plot(x, [p.mean for p in curve.points], marker="o", label=f"{curve.name} ({curve.protocol})")[0]
        low = [p.mean if math.isnan(p.low) else p.low for p in curve.points]
        high = [p.mean if math.isnan(p.high) else p.high for p in curve.points]
        axes.fill_between(x, low, high, color=line.get_color(), alpha=0.2)
    if curves:
        axes.axhline(curves[0].baseline, color="grey", linestyle="--", label="no-input baseline")
        axes.set_ylabel(curves[0].metric)
    axes.set_xscale("log")
    axes.set_xlabel("training labels used (%)")
    axes.set_title(title or "label efficiency (mean and 95% CI over seeds)")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fixed creation date keeps the PNG bytes stable from run to run.
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
    return path


def write_report(
    out_dir: str | Path,
    title: str,
    probes: dict[str, ProbeResult] | None = None,
    curves: Sequence[EfficiencyCurve] = (),
    notes: str = "",
) -> Path:
    """Writes `report.md`, `label_efficiency.png` (when curves are given) and `results.json`; returns report.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    probes = probes or {}
    lines = [f"# {title}", ""]
    if notes:
        lines += [notes, ""]
    if probes:
        lines += [
            "## Probes (all training labels)",
            "",
            "| model | protocol | metric | value | no-input baseline | train | test |",
        ]
        lines += ["|---|---|---|---|---|---|---|"]
        for name, r in probes.items():
            lines.append(
                f"| {name} | {r.protocol} | {r.metric} | {_fmt(r.value)} | {_fmt(r.baseline)} "
                f"| {r.n_train} | {r.n_test} |"
            )
        lines.append("")
    if curves:
        plot_label_efficiency(curves, out / "label_efficiency.png", title)
        lines += ["## Label efficiency", "", "![label efficiency](label_efficiency.png)", ""]
        lines += [f"Mean over seeds with the Student-t {int(curves[0].confidence * 100)}% confidence interval.", ""]
        lines += [
            "| model | protocol | labels (%) | labels | seeds | mean | CI low | CI high |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in curves:
            for p in c.points:
                lines.append(
                    f"| {c.name} | {c.protocol} | {p.fraction * 100:g} | {p.labels} | {len(p.values)} | {_fmt(p.mean)} "
                    f"| {_fmt(p.low)} | {_fmt(p.high)} |"
                )
        lines.append("")
    report = out / "report.md"
    write_atomic(report, "\n".join(lines))
    results = {
        "title": title,
        "probes": {k: v.as_dict() for k, v in probes.items()},
        "curves": [c.as_dict() for c in curves],
    }
    write_atomic(out / "results.json", dump_json(_finite(results)))
    return report


def _finite(obj):
    """JSON has no NaN: undefined numbers (an interval from one seed) become null."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def number(value: float | None, spec: str = ".4g") -> str:
    """A figure's number: 4 significant digits, "n/a" for a missing or non-finite one."""
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return "n/a"
    return format(value, spec)


def difference_with_interval(figure: Figure) -> str:
    """ "+0.0123 [-0.0040, +0.0290]": hfm - baseline and its paired 95% interval (the difference alone without one)."""
    low, high = figure.interval
    text = number(figure.difference, "+.4g")
    if math.isnan(low) or math.isnan(high):
        return f"{text} (no interval)"
    return f"{text} [{number(low, '+.4g')}, {number(high, '+.4g')}]"


def sample_size(figure: Figure) -> str:
    """ "168 forecasts (effective 41)" or "42 events"."""
    text = f"{figure.n_test} {figure.test_unit}".strip()
    return text if figure.n_effective is None else f"{text} (effective {figure.n_effective:.0f})"


def headline_figures(figures: Iterable[Figure]) -> list[Figure]:
    """The figures flagged `headline`; a task with none flagged shows its first figure, so no task is hidden.
    Consistency checks never headline: they are no comparison with a baseline."""
    measured = [f for f in figures if f.reference == "measurement"]
    flagged_tasks = {f.task for f in measured if f.headline}
    chosen, seen = [], set()
    for f in measured:
        if f.headline or (f.task not in flagged_tasks and f.task not in seen):
            chosen.append(f)
            seen.add(f.task)
    return chosen


def headline_table(figures: Iterable[Figure]) -> list[str]:
    """Markdown lines: per domain and task, hfm against its strongest baseline with the paired interval and outcome."""
    lines = [
        "| domain | task | metric | hfm | strongest baseline | hfm - baseline [95% interval] | method | n | outcome |",
        "|---|---|---|---:|---|---|---|---|---|",
    ]
    for f in headline_figures(figures):
        task = f.task.split("/", 1)[-1]
        lines.append(
            f"| {f.domain} | {task} | {f.metric} {f.arrow} | {number(f.value)} | {f.baseline_name} "
            f"{number(f.baseline)} | {difference_with_interval(f)} | {f.interval_method} | {sample_size(f)} | "
            f"**{f.outcome}** |"
        )
    return lines


def outcome_summary(figures: Iterable[Figure]) -> str:
    """ "2 wins, 1 tie, 3 losses of 6 figures; not counted: 1 consistency check, 0 without interval"."""
    figures = list(figures)
    counts = Counter(f.outcome for f in figures)
    counted = sum(counts[k] for k in COUNTED)
    return (
        f"{_plural(counts['win'], 'win')}, {_plural(counts['tie'], 'tie')}, {_plural(counts['loss'], 'loss')} "
        f"of {_plural(counted, 'figure')}; not counted: {_plural(counts['consistency check'], 'consistency check')}, "
        f"{counts['no interval']} without interval"
    )


def _plural(count: int, word: str) -> str:
    if count == 1:
        return f"1 {word}"
    return f"{count} {word}es" if word.endswith("s") else f"{count} {word}s"
