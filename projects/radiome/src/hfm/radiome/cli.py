"""`hfm radiome ...`: fingerprint, curate, pretrain, finetune, predict and evaluate 3D volumes."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hfm.shared.errors import HFMError

app = typer.Typer(
    help="3D MRI/CT volumes: NIfTI/DICOM, nnU-Net raw layout, MAE pretraining, segmentation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _spacing(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise HFMError(f"--spacing {text!r}: expected one number or three separated by commas (mm)") from None
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or min(values) <= 0:
        raise HFMError(f"--spacing {text!r}: expected one or three positive numbers (mm)")
    return values[0], values[1], values[2]


def _plan(path: Path):
    from hfm.radiome.fingerprint import Plan

    if not path.exists():
        raise HFMError(f"{path}: no plan here; run `hfm radiome fingerprint` first")
    try:
        return Plan.model_validate_json(path.read_text())
    except ValueError as error:
        raise HFMError(f"{path}: not a radiome plan: {error}") from error


@app.command()
def fingerprint(
    raw: Path = typer.Argument(..., help="nnU-Net raw dataset folder (dataset.json, imagesTr, labelsTr)."),
    out: Path = typer.Option(None, help="Folder for fingerprint.json and plan.json (default: the dataset folder)."),
    spacing: str = typer.Option(None, help="Target spacing in mm (e.g. 4 or 1,1,3); default: from the data."),
    token_size: int = typer.Option(8, help="Token edge in voxels; patch sides are multiples of it."),
    max_patch: int = typer.Option(64, help="Patch budget: at most max_patch^3 voxels."),
) -> None:
    """Fingerprint a raw dataset (spacings, shapes, foreground intensities) and plan spacing and patch size."""
    from hfm.radiome.fingerprint import FINGERPRINT_FILE, PLAN_FILE, compute_fingerprint, make_plan, save_model

    out = out or raw
    found = compute_fingerprint(raw)
    plan = make_plan(found, token_size=token_size, max_patch_voxels=max_patch**3, spacing=_spacing(spacing))
    save_model(out / FINGERPRINT_FILE, found)
    save_model(out / PLAN_FILE, plan)
    typer.echo(f"{len(found.cases)} training cases; target spacing {plan.target_spacing} mm, patch {plan.patch_size}")
    typer.echo(f"wrote {out / FINGERPRINT_FILE} and {out / PLAN_FILE}")


@app.command()
def curate(
    raw: Path = typer.Argument(..., help="nnU-Net raw dataset folder."),
    out: Path = typer.Argument(..., help="Output folder (a curated nnU-Net raw dataset with card.json)."),
    plan: Path = typer.Option(None, help="plan.json giving the target spacing (default: <raw>/plan.json)."),
    spacing: str = typer.Option(None, help="Target spacing in mm instead of a plan (e.g. 4 or 1,1,3)."),
    license: str = typer.Option("LicenseRef-unspecified", help="SPDX licence of the data, for the card."),
    name: str = typer.Option(None, help="Dataset name for the card (default: the raw folder's name)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Check, resample and normalise every case; quarantine failing cases with their reasons; write the card."""
    from hfm.radiome.curate import curate_nnunet

    target = _spacing(spacing) or tuple(_plan(plan or raw / "plan.json").target_spacing)
    summary, card = curate_nnunet(raw, out, target, license=license, name=name, show_progress=progress)
    typer.echo(summary.line())
    if summary.quarantined:
        typer.echo(f"reasons per case: {out / 'quarantine' / 'report.csv'}")
    typer.echo(f"card: {out / 'card.json'} ({card.records} records)")


def _model_args(width: int, depth: int, heads: int) -> dict[str, int]:
    return {"width": width, "depth": depth, "heads": heads}


@app.command()
def pretrain(
    dataset: Path = typer.Argument(..., help="Curated dataset folder (hfm radiome curate)."),
    out: Path = typer.Option(Path("runs/radiome-mae"), help="Run folder; the exported model goes to <out>/export."),
    plan: Path = typer.Option(None, help="plan.json (default: <dataset>/../plan.json or <dataset>/plan.json)."),
    steps: int = typer.Option(200, help="Optimiser steps."),
    batch_size: int = typer.Option(2, help="Patches per step."),
    lr: float = typer.Option(1.5e-3, help="Peak learning rate (warm-up then cosine)."),
    width: int = typer.Option(96, help="Trunk width."),
    depth: int = typer.Option(4, help="Trunk depth."),
    heads: int = typer.Option(3, help="Attention heads."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Masked image modelling: 75% of 8^3-voxel tokens hidden in 2x2x2 blocks, loss on the hidden voxels."""
    from hfm.radiome.tasks import train
    from hfm.shared.artifacts import ModelCard, export_model

    the_plan = _plan(plan or _find_plan(dataset))
    options = {
        "dataset": str(dataset),
        "patch_size": the_plan.patch_size,
        "seed": seed,
        "model_args": _model_args(width, depth, heads),
    }
    model, summary = train("radiome-mae", options, out, steps, batch_size, lr, seed, progress=True)
    export = export_model(
        model,
        out / "export",
        {"plan": the_plan.model_dump()},
        ModelCard(
            name="radiome-mae-tiny",
            intended_use="initialising radiome segmenters and classifiers",
            limitations=f"pretrained for {steps} steps on {dataset.name}",
            training=summary,
        ),
    )
    typer.echo(f"pretrained {summary['steps']} steps in {summary['wall_s']:.0f} s; model: {export}")


def _find_plan(dataset: Path) -> Path:
    for candidate in (dataset / "plan.json", dataset.parent / "plan.json"):
        if candidate.exists():
            return candidate
    raise HFMError(f"{dataset}: no plan.json beside or in it; pass --plan (from `hfm radiome fingerprint`)")


@app.command()
def finetune(
    dataset: Path = typer.Argument(..., help="Curated dataset folder with labelled cases."),
    out: Path = typer.Option(Path("runs/radiome-seg"), help="Run folder; the exported model goes to <out>/export."),
    pretrained: Path = typer.Option(None, help="Artifact folder of a pretrained MAE (omit to train from scratch)."),
    plan: Path = typer.Option(None, help="plan.json (default: found beside the dataset)."),
    model: str = typer.Option("radiome-unetr-tiny", help="radiome-unetr-tiny or radiome-unet-baseline."),
    steps: int = typer.Option(100, help="Optimiser steps."),
    batch_size: int = typer.Option(2, help="Patches per step."),
    lr: float = typer.Option(1e-3, help="Peak learning rate."),
    label_fraction: float = typer.Option(1.0, help="Fraction of labelled axial slices to train on."),
    width: int = typer.Option(96, help="Trunk width (must match the pretrained model)."),
    depth: int = typer.Option(4, help="Trunk depth (must match the pretrained model)."),
    heads: int = typer.Option(3, help="Attention heads."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Train a segmenter on the labelled cases, from a pretrained encoder or from scratch; export it."""
    from hfm.radiome.nnunet import read_dataset_json
    from hfm.radiome.tasks import train
    from hfm.shared.artifacts import ModelCard, export_model

    the_plan = _plan(plan or _find_plan(dataset))
    labels = read_dataset_json(dataset).labels
    args: dict = {"classes": len(labels)}
    if model != "radiome-unet-baseline":
        args.update(_model_args(width, depth, heads), features=8)
    options = {
        "dataset": str(dataset),
        "patch_size": the_plan.patch_size,
        "seed": seed,
        "model": model,
        "model_args": args,
        "label_fraction": label_fraction,
    }
    if pretrained is not None:
        options["pretrained"] = str(pretrained)
    trained, summary = train("radiome-segment", options, out, steps, batch_size, lr, seed, progress=True)
    export = export_model(
        trained,
        out / "export",
        {"plan": the_plan.model_dump(), "labels": labels},
        ModelCard(
            name=model,
            intended_use=f"segmenting {', '.join(labels)} in volumes like {dataset.name}",
            limitations=f"trained for {steps} steps on {dataset.name}",
            training=summary,
        ),
    )
    if "pretrained_load" in summary:
        typer.echo(f"pretrained weights: {summary['pretrained_load']}")
    typer.echo(f"trained {summary['steps']} steps in {summary['wall_s']:.0f} s; model: {export}")


@app.command()
def predict(
    model: Path = typer.Argument(..., help="Exported segmenter folder (from finetune)."),
    input: Path = typer.Argument(..., help="NIfTI file or folder of one DICOM series."),
    output: Path = typer.Argument(..., help="Output NIfTI label map (same grid, affine and header as the input)."),
    modality: str = typer.Option(None, help="CT or MR (default: the model's plan)."),
) -> None:
    """Segment a whole volume with sliding-window inference; write labels on the input's grid."""
    from hfm.radiome.infer import predict_file

    typer.echo(f"wrote {predict_file(model, input, output, modality)}")


@app.command()
def evaluate(
    prediction: Path = typer.Argument(..., help="Predicted label map (NIfTI)."),
    reference: Path = typer.Argument(..., help="Reference label map (NIfTI) on the same grid."),
    labels: str = typer.Option(None, help="Classes to score, e.g. 1,2 (default: every non-zero value present)."),
) -> None:
    """Dice per class between a prediction and a reference label map."""
    import numpy as np

    from hfm.radiome.infer import dice_per_class
    from hfm.radiome.volume import read_nifti

    pred, ref = read_nifti(prediction), read_nifti(reference)
    if pred.shape != ref.shape or not np.allclose(pred.affine, ref.affine, atol=1e-3):
        raise HFMError(f"{prediction}: grid {pred.shape} differs from the reference's {ref.shape} (or its affine)")
    classes = [int(v) for v in labels.split(",")] if labels else sorted(set(np.unique(ref.array).tolist()) - {0})
    dice = dice_per_class(np.asarray(pred.array), np.asarray(ref.array), classes)
    typer.echo(json.dumps({"dice": dice, "mean": float(np.mean(list(dice.values())))}, indent=2))


@app.command()
def benchmark(
    out: Path = typer.Argument(Path("runs/radiome-brain"), help="Work folder for data, runs and results."),
    spacing: float = typer.Option(4.0, help="Target spacing in mm."),
    pretrain_steps: int = typer.Option(200, help="MAE steps."),
    finetune_steps: int = typer.Option(100, help="Segmentation steps (hfm and the UNet baseline alike)."),
    fractions: str = typer.Option("1.0", help="Label fractions for the label-efficiency curve, e.g. 0.1,0.25,1"),
    seeds: int = typer.Option(1, min=1, help="Fine-tuning seeds per label fraction (3 or more give 95% intervals)."),
) -> None:
    """Brain tissue benchmark: MNI152 -> ITK example subject, hfm vs MONAI UNet vs k-means / multi-Otsu."""
    from hfm.radiome.brain import ITK_INSTALL_HINT, itk_data_dir
    from hfm.radiome.experiment import BrainConfig, run_brain_experiment

    if itk_data_dir() is None:
        raise HFMError(f"the test subject is missing: {ITK_INSTALL_HINT}")
    config = BrainConfig(
        spacing=spacing,
        pretrain_steps=pretrain_steps,
        finetune_steps=finetune_steps,
        fractions=tuple(float(f) for f in fractions.split(",")),
        finetune_seeds=tuple(range(seeds)),
    )
    result = run_brain_experiment(out, config)
    typer.echo(result.markdown())
    typer.echo(f"results: {out / 'results.json'}")
