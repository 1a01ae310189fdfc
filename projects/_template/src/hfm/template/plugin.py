"""What hfm-template offers to the core (see `hfm domains`): the one object behind its entry point, and the
only place its tasks and benchmarks are declared."""

from __future__ import annotations

from hfm.shared.plugins import DomainPlugin
from hfm.template import tasks as _tasks  # noqa: F401  (registers the models the tasks build)
from hfm.template.format import ArrayStoreFormat

plugin = DomainPlugin(
    name="template",
    summary="Template domain: 1-D signals in class folders, curated, pretrained, fine-tuned and benchmarked.",
    readers=("npy class folders",),
    heads=("classification",),
    task_factories={
        "template-mae": "hfm.template.tasks:MAETask",
        "template-classify": "hfm.template.tasks:ClassifyTask",
    },
    benchmarks={"template": "hfm.template.benchmarks:figures"},
    models=("template-mae-tiny", "template-classifier-tiny"),
    baselines=("spectrum + logistic regression",),
    dataset_formats={"hfm-arrays": ArrayStoreFormat},
    cli="hfm.template.cli:app",
    hooks={"quickstart": "hfm.template.quickstart:run", "synergy": "hfm.template.synergy:template_bench"},
)
