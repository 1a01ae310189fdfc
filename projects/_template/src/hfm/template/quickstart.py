"""This domain's section of `hfm quickstart`: curate, pretrain, fine-tune, score against the baseline."""

from __future__ import annotations

from hfm.shared.quickstart import QuickstartContext, QuickstartResult
from hfm.template.benchmarks import run_benchmark


def run(context: QuickstartContext) -> QuickstartResult:
    figures = run_benchmark(context.out_dir, steps=20 if context.smoke else 60, per_class=20 if context.smoke else 40)
    f = figures[0]
    markdown = (
        f"Accuracy on {f.n_test} test signals: hfm {f.value:.3f}, {f.baseline_name} {f.baseline:.3f} ({f.outcome})."
    )
    return QuickstartResult(domain="template", markdown=markdown, metrics={"accuracy": f.value}, figures=figures)
