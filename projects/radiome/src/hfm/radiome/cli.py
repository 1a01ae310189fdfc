"""`hfm radiome curate | pretrain | finetune | predict | evaluate | benchmark`, with the shared arguments; beside them
`fingerprint` (plan a raw dataset's spacing and patch before curating it) and `brain-experiment` (the earlier
one-template run, MNI152 -> ITK subject)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from hfm.shared.cli.curate_command import CurateRequest, curate_command
from hfm.shared.cli.options import Init, Out, Raw
from hfm.shared.cli.training import TrainingRun, add_training_command
from hfm.shared.errors import HFMError
from hfm.shared.shortcuts import ShortcutResult

app = typer.Typer(
    help="3D MRI/CT volumes: NIfTI/DICOM, nnU-Net raw layout, MAE pretraining, segmentation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Spacing = typer.Option(None, help="Target spacing in mm (e.g. 4 or 1,1,3).")
PlanFile = typer.Option(None, help="plan.json from `hfm radiome fingerprint` (default: in or beside DATASET).")
Width = typer.Option(96, help="Trunk width (a fine-tuned model's must match its --init).")
Depth = typer.Option(4, help="Trunk depth (a fine-tuned model's must match its --init).")
Heads = typer.Option(3, help="Attention heads.")


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


def _plan(path: Path | None, dataset: Path):
    """The plan at `path`, or the first plan.json in or beside the dataset folder."""
    from hfm.radiome.curate.fingerprint import PLAN_FILE, Plan
    from hfm.shared.jsonio import read_model

    candidates = [path] if path is not None else [dataset / PLAN_FILE, dataset.parent / PLAN_FILE]
    found = next((p for p in candidates if p.is_file()), candidates[0])
    missing = "no plan here; run `hfm radiome fingerprint` first (or pass --plan)"
    return read_model(found, Plan, "a radiome plan", missing)


@app.command()
def fingerprint(
    raw: Raw,
    out: Path = typer.Option(None, help="Folder for fingerprint.json and plan.json (default: the dataset folder)."),
    spacing: str = typer.Option(None, help="Target spacing in mm (e.g. 4 or 1,1,3); default: from the data."),
    token_size: int = typer.Option(8, help="Token edge in voxels; patch sides are multiples of it."),
    max_patch: int = typer.Option(64, help="Patch budget: at most max_patch^3 voxels."),
) -> None:
    """Fingerprint a raw nnU-Net dataset (spacings, shapes, foreground intensities); plan spacing and patch size."""
    from hfm.radiome.curate.fingerprint import FINGERPRINT_FILE, PLAN_FILE, compute_fingerprint, make_plan, save_model

    out = out or raw
    found = compute_fingerprint(raw)
    plan = make_plan(found, token_size=token_size, max_patch_voxels=max_patch**3, spacing=_spacing(spacing))
    save_model(out / FINGERPRINT_FILE, found)
    save_model(out / PLAN_FILE, plan)
    typer.echo(f"{len(found.cases)} training cases; target spacing {plan.target_spacing} mm, patch {plan.patch_size}")
    typer.echo(f"wrote {out / FINGERPRINT_FILE} and {out / PLAN_FILE}")


@curate_command(
    app,
    shard_size=0,
    shard_help="Cases per shard (one small nnU-Net raw dataset each); 0: unsharded.",
    name=None,
    name_help="Dataset name for the card (default: the raw folder's name).",
)
def curate(
    raw: Raw,
    plan: Path = typer.Option(None, help="plan.json giving the target spacing (default: RAW/plan.json)."),
    spacing: str = Spacing,
    *,
    request: CurateRequest,
) -> None:
    """Check, resample and normalise every case of a raw nnU-Net dataset; quarantine failing cases with reasons."""
    from hfm.radiome.curate.nnunet import curate_nnunet

    out = request.out
    target = _spacing(spacing) or tuple(_plan(plan or raw / "plan.json", raw).target_spacing)
    describe = request.describe(default_name=raw.name)
    done = curate_nnunet(raw, out, target, describe, show_progress=request.show_progress, sharding=request.sharding)
    if done.summary is None:  # a part of an array: the run without --part merges and writes the card
        typer.echo(f"{out}: part {request.part} curated")
        return
    typer.echo(f"{out}: {done.summary.line()}")
    if done.summary.quarantined:
        typer.echo(f"reasons per case: {out / 'quarantine' / 'report.csv'}")


def _pretrain(run: TrainingRun) -> ShortcutResult:
    from hfm.radiome.training import pretrain

    sizes = {name: run.extra[name] for name in ("width", "depth", "heads")}
    plan = _plan(run.extra["plan"], run.dataset)
    return pretrain(run.dataset, run.out, plan, run.settings, model=run.model, model_args=sizes)


def _finetune(run: TrainingRun) -> ShortcutResult:
    from hfm.radiome.data.stream import dataset_info
    from hfm.radiome.training import finetune

    labels = list(dataset_info(run.dataset).labels)  # a sharded dataset's from its first shard
    args: dict = {"classes": len(labels)}
    if run.model != "radiome-unet-baseline":
        args |= {name: run.extra[name] for name in ("width", "depth", "heads")} | {"features": 8}
    plan = _plan(run.extra["plan"], run.dataset)
    return finetune(
        run.dataset,
        run.out,
        plan,
        labels,
        run.settings,
        init=run.init,
        model=run.model,
        model_args=args,
        label_fraction=run.extra["label_fraction"],
    )


SIZES = {"width": (int, Width), "depth": (int, Depth), "heads": (int, Heads)}
add_training_command(
    app,
    "pretrain",
    _pretrain,
    help="Masked image modelling (75% of 8^3 tokens hidden in 2x2x2 blocks); OUT/run.yaml (replay: hfm train) and "
    "OUT/model.",
    model="radiome-mae-tiny",
    steps=200,
    batch_size=2,
    lr=1.5e-3,
    extra={"plan": (Path, PlanFile), **SIZES},
)
add_training_command(
    app,
    "finetune",
    _finetune,
    help="A segmenter (radiome-unetr-tiny, or radiome-unet-baseline from scratch) on the labelled cases, from "
    "--init's encoder; OUT/run.yaml and OUT/model.",
    model="radiome-unetr-tiny",
    steps=100,
    batch_size=2,
    init=True,
    extra={
        "plan": (Path, PlanFile),
        "label_fraction": (float, typer.Option(1.0, help="Fraction of labelled axial slices to train on.")),
        **SIZES,
    },
)


@app.command()
def predict(
    input: Path = typer.Argument(..., help="NIfTI file or folder of one DICOM series."),
    out: Out = ...,
    init: Init = None,
    modality: str = typer.Option(None, help="CT or MR (default: the model's plan)."),
) -> None:
    """Segment a whole volume with the model --init (sliding windows); OUT/<input>.nii.gz on the input's grid, with
    its affine and header."""
    from hfm.radiome.predict import predict_file

    if init is None:
        raise HFMError("predict needs --init MODEL (a segmenter folder written by `hfm radiome finetune`)")
    name = input.name.removesuffix(".gz").removesuffix(".nii")
    typer.echo(f"wrote {predict_file(init, input, out / f'{name}.nii.gz', modality)}")


@app.command()
def evaluate(
    prediction: Path = typer.Argument(..., help="Predicted label map (NIfTI)."),
    reference: Path = typer.Argument(..., help="Reference label map (NIfTI) on the same grid."),
    out: Out = ...,
    labels: str = typer.Option(None, help="Classes to score, e.g. 1,2 (default: every non-zero value present)."),
) -> None:
    """Dice per class between a prediction and a reference label map; OUT/evaluation.json."""
    import numpy as np

    from hfm.radiome.metrics import dice_per_class
    from hfm.radiome.readers.volume import read_nifti

    pred, ref = read_nifti(prediction), read_nifti(reference)
    if pred.shape != ref.shape or not np.allclose(pred.affine, ref.affine, atol=1e-3):
        raise HFMError(f"{prediction}: grid {pred.shape} differs from the reference's {ref.shape} (or its affine)")
    classes = [int(v) for v in labels.split(",")] if labels else sorted(set(np.unique(ref.array).tolist()) - {0})
    dice = dice_per_class(np.asarray(pred.array), np.asarray(ref.array), classes)
    result = json.dumps({"dice": dice, "mean": float(np.mean(list(dice.values())))}, indent=2)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(result + "\n")
    typer.echo(result)


@app.command()
def benchmark(out: Out) -> None:
    """The radiome benchmark through the shared harness, as `tools/bench.py --only radiome` runs it.

    Brain tissue learnt from synthesised images, tested on two real FreeSurfer subjects; OUT/partial/radiome.{json,md}.
    """
    from hfm.radiome.plugin import plugin
    from hfm.shared.train.benchmark import run_domain_benchmarks

    results, md_path = run_domain_benchmarks("radiome", list(plugin.benchmarks), None, out)
    typer.echo(md_path.read_text())
    typer.echo(f"written: {md_path.with_suffix('.json')}, {md_path}")
    if results["failures"]:
        raise typer.Exit(1)


@app.command("brain-experiment")
def brain_experiment(
    out: Out,
    spacing: float = typer.Option(4.0, help="Target spacing in mm."),
    pretrain_steps: int = typer.Option(200, help="MAE steps."),
    finetune_steps: int = typer.Option(100, help="Segmentation steps (hfm and the UNet baseline alike)."),
    fractions: str = typer.Option("1.0", help="Label fractions for the label-efficiency curve, e.g. 0.1,0.25,1"),
    seeds: int = typer.Option(1, min=1, help="Fine-tuning seeds per label fraction (3 or more give 95% intervals)."),
) -> None:
    """The earlier one-template experiment: MNI152 -> ITK example subject, hfm vs MONAI UNet vs k-means / Otsu."""
    from hfm.radiome.experiments.brain import BrainConfig, run_brain_experiment
    from hfm.radiome.readers.brain import ITK_INSTALL_HINT, itk_data_dir

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
