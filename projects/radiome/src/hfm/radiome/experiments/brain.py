"""The radiome pipeline end to end on the real brain volumes: curate, pretrain, fine-tune, evaluate, export.

Train on the MNI152 template (labels from nilearn's tissue maps), test on the ITK example subject at its own
resolution: predictions are made on the plan's grid and resampled back to the subject's native 2 x 2 x 3 mm grid
before Dice is computed against its reference labels. The hfm model (UNETR on the MAE-pretrained encoder) runs
beside a MONAI UNet trained from scratch on the same patches for the same steps, and beside k-means and multi-Otsu
clustering of the subject's intensities. The MAE sees both T1 images without labels (self-supervised pretraining
may use unlabelled target data); no label of the test subject is used anywhere but in the Dice.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfm.radiome.baselines import cluster_intensities
from hfm.radiome.curate.fingerprint import FINGERPRINT_FILE, PLAN_FILE, Plan, compute_fingerprint, make_plan, save_model
from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.radiome.data.preprocess import resample, resample_to_shape
from hfm.radiome.format import list_cases, load_case, read_dataset_json
from hfm.radiome.metrics import dice_per_class
from hfm.radiome.predict import predict_volume
from hfm.radiome.readers.brain import TISSUE_LABELS, itk_subject, write_brain_dataset
from hfm.radiome.training import train
from hfm.shared.artifacts import ModelCard, export_model
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.eval.efficiency import EfficiencyCurve, EfficiencyPoint
from hfm.shared.eval.report import plot_label_efficiency
from hfm.shared.eval.stats import format_interval, mean_confidence_interval
from hfm.shared.jsonio import dump_json, write_atomic

CLASSES = (1, 2)  # Dice is reported for grey and white matter; background dominates and says little


@dataclass
class BrainConfig:
    spacing: float = 4.0
    max_patch: int = 32  # patch budget: at most max_patch^3 voxels
    pretrain_steps: int = 200
    finetune_steps: int = 100
    batch_size: int = 2
    lr: float = 1e-3
    fractions: tuple[float, ...] = (1.0,)
    # Fine-tuning seeds (label subset, head initialisation, patch order); the MAE is pretrained once, with `seed`.
    finetune_seeds: tuple[int, ...] = (0,)
    model_args: dict[str, Any] = field(default_factory=lambda: {"width": 96, "depth": 4, "heads": 3})
    features: int = 8
    seed: int = 0
    threads: int = 1  # on a shared CPU one thread per process is faster than oversubscribed BLAS/oneDNN pools


@dataclass
class DiceRow:
    method: str
    label_fraction: float
    grey_matter: float
    white_matter: float
    train_s: float
    seed: int = 0

    @property
    def mean(self) -> float:
        return (self.grey_matter + self.white_matter) / 2


@dataclass
class BrainResult:
    rows: list[DiceRow]
    plan: Plan
    curated: Path
    pretrained: Path
    finetuned: Path
    timings: dict[str, float]

    def seeds(self, method: str, fraction: float = 1.0) -> list[DiceRow]:
        return [r for r in self.rows if r.method == method and r.label_fraction == fraction]

    def row(self, method: str, fraction: float = 1.0) -> DiceRow:
        """The method's row at this label fraction; averaged over fine-tuning seeds where there are several."""
        return average_rows(self.seeds(method, fraction))

    def markdown(self) -> str:
        lines = [
            "| method | labelled slices | seeds | Dice GM | Dice WM | mean [95% interval over seeds] | train s |",
            "|---|---|---|---|---|---|---|",
        ]
        groups = dict.fromkeys((r.method, r.label_fraction) for r in self.rows)
        for method, fraction in groups:
            rows = self.seeds(method, fraction)
            r = average_rows(rows)
            shown = f"{fraction:.0%}" if method.startswith(("hfm", "MONAI")) else "-"
            interval = format_interval(*mean_confidence_interval([x.mean for x in rows]))
            lines.append(
                f"| {method} | {shown} | {len(rows)} | {r.grey_matter:.3f} | {r.white_matter:.3f} | "
                f"{interval} | {r.train_s:.0f} |"
            )
        return "\n".join(lines) + "\n"


def average_rows(rows: list[DiceRow]) -> DiceRow:
    if not rows:
        raise HFMError("no Dice rows for this method and label fraction")
    first = rows[0]
    return DiceRow(
        first.method,
        first.label_fraction,
        float(np.mean([r.grey_matter for r in rows])),
        float(np.mean([r.white_matter for r in rows])),
        float(np.mean([r.train_s for r in rows])),
        first.seed if len(rows) == 1 else -1,
    )


def efficiency_curves(rows: list[DiceRow]) -> list[EfficiencyCurve]:
    """Label-efficiency curves of the learned methods: mean over fine-tuning seeds with a Student-t 95% interval
    (none with one seed). The no-input baseline is 0: background everywhere scores Dice 0 on grey and white matter."""
    curves = []
    for method in ("hfm UNETR (MAE-pretrained)", "MONAI UNet (scratch)"):
        points = []
        for fraction in sorted({r.label_fraction for r in rows if r.method == method}):
            values = [r.mean for r in rows if r.method == method and r.label_fraction == fraction]
            points.append(EfficiencyPoint(fraction, 0, values, *mean_confidence_interval(values)))
        curves.append(EfficiencyCurve(method, "fine-tune", "Dice (GM/WM mean)", 0.0, points))
    return curves


def _test_image(curated: Path) -> np.ndarray:
    info = read_dataset_json(curated)
    case = next(c for c in list_cases(curated) if c.key == "itk_t1")
    return load_case(case, info)[0]


def _evaluate(model: torch.nn.Module, image: np.ndarray, plan: Plan, reference: np.ndarray) -> dict[int, float]:
    prediction = predict_volume(model, image, plan.patch_size)
    native = resample_to_shape(prediction, reference.shape, is_label=True)
    return dice_per_class(native, reference, CLASSES)


def run_brain_experiment(work_dir: str | Path, config: BrainConfig | None = None) -> BrainResult:
    config = config or BrainConfig()
    torch.set_num_threads(config.threads)
    work = Path(work_dir)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    raw = write_brain_dataset(work / "raw" / "Dataset100_BrainTissue")
    fingerprint = compute_fingerprint(raw, seed=config.seed)
    spacing = (config.spacing,) * 3
    plan = make_plan(fingerprint, token_size=8, max_patch_voxels=config.max_patch**3, spacing=spacing)
    save_model(work / FINGERPRINT_FILE, fingerprint)
    save_model(work / PLAN_FILE, plan)
    curated = work / "curated" / "Dataset100_BrainTissue"
    describe = DatasetDescription(
        "BrainTissue",
        "LicenseRef-mixed-MNI152-ITK",
        ["McConnell Brain Imaging Centre (MNI152 2009c, via nilearn)", "Insight Software Consortium (ITK example T1)"],
        "MNI152 2009c (nilearn) train, ITK example T1 test, resampled and z-scored",
    )
    curate_nnunet(raw, curated, spacing, describe, show_progress=False)
    timings["prepare_s"] = time.perf_counter() - start

    common = {"dataset": str(curated), "patch_size": plan.patch_size, "seed": config.seed}
    runs = work / "runs"
    t0 = time.perf_counter()
    mae, mae_summary = train(
        "radiome-mae",
        {**common, "model_args": config.model_args},
        runs / "mae",
        config.pretrain_steps,
        config.batch_size,
        config.lr * 1.5,
        config.seed,
    )
    timings["pretrain_s"] = time.perf_counter() - t0
    pretrained = export_model(
        mae,
        work / "pretrained",
        {"plan": plan.model_dump()},
        ModelCard(
            name="radiome-mae-tiny (brain T1 demo)",
            intended_use="initialising radiome segmenters and classifiers on T1 MRI; a demonstration scale model",
            limitations=f"pretrained for {config.pretrain_steps} steps on two T1 volumes at {config.spacing} mm",
            training={"steps": config.pretrain_steps, **mae_summary},
        ),
    )

    image = _test_image(curated)
    _, reference, _ = itk_subject()
    rows: list[DiceRow] = []
    finetuned = work / "finetuned"
    seg_args = {**config.model_args, "features": config.features, "classes": len(TISSUE_LABELS)}
    learners = {  # method -> (run folder prefix, task options): the same patches, steps and seeds for both
        "hfm UNETR (MAE-pretrained)": ("hfm", {"model_args": seg_args, "init": str(pretrained)}),
        "MONAI UNet (scratch)": (
            "unet",
            {"model": "radiome-unet-baseline", "model_args": {"classes": len(TISSUE_LABELS)}},
        ),
    }
    for fraction in config.fractions:
        for offset in config.finetune_seeds:
            seed = config.seed + offset
            suffix = f"{fraction}" if offset == 0 else f"{fraction}-seed{offset}"
            for method, (prefix, options) in learners.items():
                t0 = time.perf_counter()
                model, _ = train(
                    "radiome-segment",
                    {**common, "seed": seed, **options, "label_fraction": fraction},
                    runs / f"{prefix}-{suffix}",
                    config.finetune_steps,
                    config.batch_size,
                    config.lr,
                    seed,
                )
                seconds = time.perf_counter() - t0
                dice = _evaluate(model, image, plan, reference)
                rows.append(DiceRow(method, fraction, dice[1], dice[2], seconds, offset))
                if prefix == "hfm" and fraction == max(config.fractions) and offset == config.finetune_seeds[0]:
                    export_model(
                        model,
                        finetuned,
                        {"plan": plan.model_dump(), "labels": TISSUE_LABELS},
                        ModelCard(
                            name="radiome-unetr-tiny brain tissue (demo)",
                            intended_use="background / grey matter / white matter on skull-stripped T1 MRI",
                            limitations="fine-tuned on one template (MNI152); a demonstration, not a clinical tool",
                            metrics={"dice_gm_itk": dice[1], "dice_wm_itk": dice[2]},
                        ),
                    )
                    save_model(finetuned / PLAN_FILE, plan)  # what `hfm radiome predict` reads

    subject, _, _ = itk_subject()
    # What a perfect segmentation on the plan's grid scores after resampling back: the ceiling at this spacing.
    low, _ = resample(reference, subject.affine, spacing, is_label=True)
    dice = dice_per_class(resample_to_shape(low, reference.shape, is_label=True), reference, CLASSES)
    rows.append(DiceRow(f"reference at {config.spacing:g} mm and back (ceiling)", 1.0, dice[1], dice[2], 0.0))
    native = subject.array.astype(np.float32)
    for method, name in (("kmeans", "k-means (3 clusters)"), ("otsu", "multi-Otsu (3 classes)")):
        t0 = time.perf_counter()
        clusters = cluster_intensities(native, native > 0, order_to_label=(0, 1, 2), method=method, seed=config.seed)
        dice = dice_per_class(clusters, reference, CLASSES)
        rows.append(DiceRow(name, 1.0, dice[1], dice[2], time.perf_counter() - t0))
    timings["total_s"] = time.perf_counter() - start
    result = BrainResult(rows, plan, curated, pretrained, finetuned, timings)
    if len(config.fractions) > 1 or len(config.finetune_seeds) > 1:
        plot_label_efficiency(
            efficiency_curves(rows),
            work / "label_efficiency.png",
            "brain GM/WM Dice on the ITK subject vs labelled slices of MNI152",
        )
    write_atomic(
        work / "results.json",
        dump_json(
            {
                "config": asdict(config),
                "timings": timings,
                "plan": plan.model_dump(),
                "rows": [{**asdict(r), "mean": r.mean} for r in rows],
            }
        ),
    )
    write_atomic(work / "results.md", result.markdown())
    return result
