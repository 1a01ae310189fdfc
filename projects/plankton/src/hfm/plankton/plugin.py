"""What hfm-plankton offers to the core (see `hfm domains`). Lists only implemented features."""

from __future__ import annotations

from typing import Any

from hfm.plankton.dataset import EcoTaxaFormat
from hfm.shared.plugins import DomainPlugin


def _cli() -> Any:
    from hfm.plankton.cli import app

    return app


def _quickstart(context: Any) -> Any:
    from hfm.plankton.quickstart import run_quickstart

    return run_quickstart(context)


def _synergy(work_dir, smoke, seed):
    from hfm.plankton.synergy_bench import plankton_bench

    return plankton_bench(work_dir, smoke, seed)


plugin = DomainPlugin(
    name="plankton",
    summary="Plankton images from many instruments: EcoTaxa in and out, curation, traits in um, MAE encoder, "
    "class-weighted classifier with abstention, MorphoCluster-style annotation assist.",
    readers=("ecotaxa-tsv", "ecotaxa-zip", "image-folder", "ifcb-bin"),
    tasks=("plankton-mae",),
    heads=("classification", "traits"),
    dataset_formats={"ecotaxa": EcoTaxaFormat},
    cli=_cli,
    hooks={"quickstart": _quickstart, "synergy": _synergy},
)
