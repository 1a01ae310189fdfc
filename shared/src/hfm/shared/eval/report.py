"""Evaluation reports: Markdown tables, PNG plots (matplotlib, Agg backend: no display needed) and results.json."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from hfm.shared.eval.efficiency import EfficiencyCurve
from hfm.shared.eval.probes import ProbeResult
from hfm.shared.jsonio import dump_json, write_atomic


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
