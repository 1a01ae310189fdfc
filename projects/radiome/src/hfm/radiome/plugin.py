"""What hfm-radiome offers to the core (see `hfm domains`): the one object behind its entry point, and the only
place its tasks and benchmarks are declared. Lists only implemented features."""

from __future__ import annotations

from typing import Any

from hfm.radiome import baselines as _baselines  # noqa: F401  (registers radiome-unet-baseline)
from hfm.radiome import models as _models  # noqa: F401  (registers radiome-mae/unetr/classifier-tiny)
from hfm.radiome.format import NnunetRawFormat
from hfm.shared.plugins import DomainPlugin


def _cli() -> Any:
    from hfm.radiome.cli import app

    return app


def _quickstart(context: Any) -> Any:
    from hfm.radiome.quickstart import run_quickstart

    return run_quickstart(context)


def _synergy(work_dir, smoke, seed):
    from hfm.radiome.synergy import radiome_bench

    return radiome_bench(work_dir, smoke, seed)


def _embed(dataset_dir, model_dir):
    from hfm.radiome.synergy import embed_curated

    return embed_curated(dataset_dir, model_dir)


plugin = DomainPlugin(
    name="radiome",
    summary="3D MRI/CT volumes: NIfTI/DICOM, nnU-Net layout, MONAI segmentation.",
    readers=("nifti", "dicom-series", "nnunet-raw"),
    heads=("unetr-segmentation", "volume-classification"),
    task_factories={
        "radiome-mae": "hfm.radiome.tasks:mae_task",
        "radiome-segment": "hfm.radiome.tasks:segment_task",
        "radiome-synthseg": "hfm.radiome.tasks:synthseg_task",
        "radiome-mae-volumes": "hfm.radiome.tasks:mae_volumes_task",
    },
    benchmarks={"radiome": "hfm.radiome.benchmarks:figures"},
    models=("radiome-mae-tiny", "radiome-unetr-tiny", "radiome-classifier-tiny", "radiome-unet-baseline"),
    baselines=("k-means (3 clusters)", "multi-Otsu (3 classes)", "N4 + Atropos (ANTs)", "MONAI UNet (scratch)"),
    dataset_formats={"nnunet-raw": NnunetRawFormat},
    cli=_cli,
    hooks={"quickstart": _quickstart, "synergy": _synergy, "embed": _embed},
)
