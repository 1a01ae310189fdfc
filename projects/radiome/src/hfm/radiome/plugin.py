"""What hfm-radiome offers to the core (see `hfm domains`): the one object behind its entry point, and the only
place its tasks and benchmarks are declared. Lists only implemented features."""

from __future__ import annotations

from hfm.radiome import baselines as _baselines  # noqa: F401  (registers radiome-unet-baseline)
from hfm.radiome import models as _models  # noqa: F401  (registers radiome-mae/unetr/classifier-tiny)
from hfm.radiome.format import NnunetRawFormat
from hfm.shared.plugins import DomainPlugin

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
    baselines=(
        "k-means (3 clusters)",
        "multi-Otsu (3 classes)",
        "k-means + deep-CSF rule",
        "k-means + deep-CSF + connectivity rule",
        "Atropos (ANTs)",
        "MONAI UNet (scratch)",
    ),
    dataset_formats={"nnunet-raw": NnunetRawFormat},
    cli="hfm.radiome.cli:app",
    hooks={
        "quickstart": "hfm.radiome.quickstart:run_quickstart",
        "synergy": "hfm.radiome.synergy:radiome_bench",
        "embed": "hfm.radiome.synergy:embed_curated",
    },
)
