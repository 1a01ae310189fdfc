"""What hfm-plankton offers to the core (see `hfm domains`): the one object behind its entry point, and the only
place its tasks and benchmarks are declared. Lists only implemented features."""

from __future__ import annotations

from hfm.plankton.format import EcoTaxaFormat
from hfm.shared.plugins import DomainPlugin

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
    cli="hfm.plankton.cli:app",  # imported only when used: `hfm --help` must not import the domain
    hooks={
        "quickstart": "hfm.plankton.quickstart:run_quickstart",
        "synergy": "hfm.plankton.synergy:plankton_bench",
        "embed": "hfm.plankton.synergy:embed_curated",  # hfm synergy atlas: canvas + scale channel
    },
)
