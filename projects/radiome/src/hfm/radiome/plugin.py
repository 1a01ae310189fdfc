"""What hfm-radiome offers to the core (see `hfm domains`). Lists only implemented features."""

from __future__ import annotations

from typing import Any

from hfm.radiome import baselines as _baselines  # noqa: F401  (registers radiome-unet-baseline)
from hfm.radiome import models as _models  # noqa: F401  (registers radiome-mae/unetr/classifier-tiny)
from hfm.radiome.nnunet import NnunetRawFormat
from hfm.shared.plugins import DomainPlugin


def _cli() -> Any:
    from hfm.radiome.cli import app

    return app


def _quickstart(context: Any) -> Any:
    from hfm.radiome.quickstart import run_quickstart

    return run_quickstart(context)


def _synergy(work_dir, smoke, seed):
    from hfm.radiome.synergy_bench import radiome_bench

    return radiome_bench(work_dir, smoke, seed)


plugin = DomainPlugin(
    name="radiome",
    summary="3D MRI/CT volumes: NIfTI/DICOM, nnU-Net layout, MONAI segmentation.",
    readers=("nifti", "dicom-series", "nnunet-raw"),
    tasks=("radiome-mae", "radiome-segment", "radiome-synthseg", "radiome-mae-volumes"),
    heads=("unetr-segmentation", "volume-classification"),
    dataset_formats={"nnunet-raw": NnunetRawFormat},
    cli=_cli,
    hooks={"quickstart": _quickstart, "synergy": _synergy},
)
