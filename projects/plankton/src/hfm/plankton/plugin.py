"""What hfm-plankton offers to the core (see `hfm domains`): the one object behind its entry point, and the only
place its tasks and benchmarks are declared. Lists only implemented features."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Any

from hfm.plankton.format import EcoTaxaFormat
from hfm.shared.plugins import DomainPlugin


def _target(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def _on_call(target: str) -> Callable[..., Any]:
    """A hook that imports its `module:function` only when called: `hfm --help` must not import the domain."""
    return lambda *args, **kwargs: _target(target)(*args, **kwargs)


plugin = DomainPlugin(
    name="plankton",
    summary="Plankton images from many instruments: EcoTaxa in and out, curation, traits in um, MAE encoder, "
    "class-weighted classifier with abstention, MorphoCluster-style annotation assist.",
    readers=("ecotaxa-tsv", "ecotaxa-zip", "image-folder", "ifcb-bin"),
    heads=("classification", "traits"),
    task_factories={
        "plankton-mae": "hfm.plankton.tasks:build_plankton_mae_task",
        "plankton-classify": "hfm.plankton.tasks:build_plankton_classify_task",
    },
    models=("plankton-classifier-tiny",),
    benchmarks={
        name: f"hfm.plankton.benchmarks:{function}"
        for name, function in (
            ("plankton-bering-sea", "bering_sea_figures"),
            ("plankton-flowcam", "flowcam_figures"),
            ("plankton-whoi-fewshot", "few_shot_figures"),
            ("plankton-label-efficiency", "label_efficiency_figures"),
            ("plankton-assist", "assist_figures"),
            ("plankton-loader", "loader_figures"),
        )
    },
    dataset_formats={"ecotaxa": EcoTaxaFormat},
    cli=lambda: _target("hfm.plankton.cli:app"),
    hooks={
        "quickstart": _on_call("hfm.plankton.quickstart:run_quickstart"),
        "synergy": _on_call("hfm.plankton.synergy:plankton_bench"),
    },
)
