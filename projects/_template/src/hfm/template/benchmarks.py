"""The template's benchmark: accuracy of hfm (MAE-pretrained, fine-tuned) against the spectrum baseline, paired over
the test signals. Returned as `list[Figure]` for `nox -s bench`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import paired_bootstrap
from hfm.shared.shortcuts import RunSettings
from hfm.template.curate import curate_signals
from hfm.template.experiments import score
from hfm.template.synthetic import write_example_raw
from hfm.template.training import finetune, pretrain


def run_benchmark(work: Path, steps: int = 60, per_class: int = 40) -> list[Figure]:
    raw = write_example_raw(work / "raw", per_class=per_class)
    dataset = work / "dataset"
    curate_signals(raw, dataset, DatasetDescription("template-example", "CC0-1.0", ["HFM"]), show_progress=False)
    settings = RunSettings(steps=steps, progress=False)
    pretrained = pretrain(dataset, work / "pretrain", settings)
    tuned = finetune(dataset, work / "finetune", settings, init=pretrained.model_dir)
    scores = score(tuned.model_dir, dataset)
    _, low, high = paired_bootstrap(scores.hfm_correct, scores.baseline_correct)
    return [
        Figure(
            name="template: signal class accuracy",
            task="template/classification",
            metric="accuracy",
            higher_is_better=True,
            value=float(scores.hfm_correct.mean()),
            baseline=float(scores.baseline_correct.mean()),
            baseline_name="spectrum + logistic regression",
            n_test=scores.n_test,
            test_unit="signals",
            interval=(low, high),
            interval_method="paired bootstrap over test signals, 2000 resamples",
            command="python tools/bench.py --only template",
            notes="generated example data: a template's figure, not evidence about any field",
        )
    ]


def figures() -> list[Figure]:
    with tempfile.TemporaryDirectory() as work:
        return run_benchmark(Path(work))
