"""`hfm plankton ...`: curate, pretrain, finetune, classify, traits, assist, evaluate, EcoTaxa and DwC export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import typer
from threadpoolctl import threadpool_limits

from hfm.shared.errors import HFMError

app = typer.Typer(
    help="Plankton images: EcoTaxa in and out, curation, MAE encoder, classes, traits.", no_args_is_help=True
)

SOURCE_HELP = "EcoTaxa export (.tsv, .zip or folder), IFCB bin (.hdr) or folder of images (one sub-folder per class)."


def _threads(threads: int) -> None:
    """Small models on shared CPUs run faster on one thread than fighting for two (torch and BLAS alike)."""
    if threads > 0:
        torch.set_num_threads(threads)
        threadpool_limits(threads)


@app.command("curate")
def curate(
    source: Path = typer.Argument(..., help=SOURCE_HELP),
    output: Path = typer.Argument(..., help="Dataset folder to write (empty, or an earlier curation output)."),
    kind: str = typer.Option("auto", help="auto | ecotaxa | folder | ifcb."),
    instrument: str = typer.Option(None, help="Instrument for rows that name none (FlowCam, IFCB, UVP5, ZooScan...)."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size in um for rows that give none."),
    canvas: int = typer.Option(64, help="Side of the square canvas in pixels."),
    fit: str = typer.Option("pad", help="pad: keep resolution, shrink only larger objects; resize: fill the canvas."),
    name: str = typer.Option("plankton", help="Dataset name."),
    license: str = typer.Option("CC-BY-4.0", help="SPDX licence identifier of the data."),
    creator: list[str] = typer.Option(["unknown"], help="Creator name; repeat for several."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Check every object, write the valid ones as canvases with traits, quarantine the rest with reasons."""
    from hfm.plankton.curate import CurationConfig, curate_objects
    from hfm.plankton.readers import read_source

    if fit not in ("pad", "resize"):
        raise HFMError(f"--fit {fit!r}: use pad or resize")
    objects = read_source(source, kind, instrument, pixel_size)  # type: ignore[arg-type]
    config = CurationConfig(canvas=canvas, fit=fit)  # type: ignore[arg-type]
    summary = curate_objects(
        objects, output, config, name=name, license=license, creators=creator, show_progress=not quiet
    )
    typer.echo(f"{output}: {summary.line()}")


@app.command("pretrain")
def pretrain(
    dataset: Path = typer.Argument(..., help="Curated plankton dataset (from `hfm plankton curate`)."),
    output: Path = typer.Argument(..., help="Model artifact folder to write."),
    steps: int = typer.Option(300, help="Optimiser steps."),
    batch_size: int = typer.Option(32, help="Images per step."),
    lr: float = typer.Option(1e-3, help="Peak learning rate."),
    width: int = typer.Option(96, help="Trunk width."),
    depth: int = typer.Option(4, help="Trunk depth."),
    seed: int = typer.Option(0, help="Random seed."),
    threads: int = typer.Option(1, help="CPU threads for torch (0: torch's default)."),
) -> None:
    """Masked-autoencoder pretraining on the dataset's images (labels unused); exports the model artifact."""
    from hfm.plankton.data import load_curated
    from hfm.plankton.models import PlanktonModelConfig
    from hfm.plankton.training import export_encoder
    from hfm.plankton.training import pretrain as run_pretrain

    _threads(threads)
    images, pixels, _ = load_curated(dataset)
    config = PlanktonModelConfig(canvas=images.shape[-1], width=width, depth=depth)
    model, info = run_pretrain(images, pixels, output / "run", config, steps, batch_size, lr, seed, progress=True)
    export_encoder(model, output, dataset, info)
    typer.echo(f"{output}: MAE loss {info['loss_first']:.3f} -> {info['loss_last']:.3f} in {info['steps']} steps")


def _features(dataset: Path, model_dir: Path) -> tuple[np.ndarray, pd.DataFrame]:
    from hfm.plankton.data import load_curated
    from hfm.plankton.tokenizer import model_input
    from hfm.plankton.training import load_encoder
    from hfm.shared.eval.embeddings import embed

    images, pixels, table = load_curated(dataset)
    return embed(load_encoder(model_dir), model_input(images, pixels)), table


@app.command("finetune")
def finetune(
    dataset: Path = typer.Argument(..., help="Curated dataset whose validated objects carry a taxon."),
    model: Path = typer.Argument(..., help="Model artifact from `hfm plankton pretrain`."),
    output: Path = typer.Argument(..., help="Where to write the head (JSON)."),
    threshold: float = typer.Option(0.5, help="Below this confidence an object stays unassigned."),
    balanced: bool = typer.Option(True, help="Weight classes by inverse frequency."),
    threads: int = typer.Option(1, help="CPU threads for torch (0: torch's default)."),
) -> None:
    """Train the classification head on the frozen encoder's embeddings of the validated objects."""
    from hfm.plankton.models.heads import ClassificationHead

    _threads(threads)
    features, table = _features(dataset, model)
    known = (table["annotation_status"] == "validated") & table["taxon"].notna()
    if known.sum() < 2:
        raise HFMError(f"{dataset}: fewer than two validated objects with a taxon; nothing to learn from")
    head = ClassificationHead.fit(
        features[known.to_numpy()],
        table["taxon"][known].to_numpy(),
        "balanced" if balanced else None,
        threshold=threshold,
    )
    head.save(output)
    typer.echo(f"{output}: {len(head.classes)} classes from {int(known.sum())} validated objects")


@app.command("classify")
def classify(
    dataset: Path = typer.Argument(..., help="Curated dataset to classify."),
    model: Path = typer.Argument(..., help="Model artifact from `hfm plankton pretrain`."),
    head: Path = typer.Argument(..., help="Head from `hfm plankton finetune`."),
    output: Path = typer.Argument(..., help="EcoTaxa bundle folder to write (predictions for re-import)."),
    threshold: float = typer.Option(None, help="Override the head's confidence threshold."),
    threads: int = typer.Option(1, help="CPU threads for torch (0: torch's default)."),
) -> None:
    """Predict a category per object; validated objects keep theirs, uncertain ones stay unclassified."""
    from hfm.plankton.models.heads import ClassificationHead
    from hfm.plankton.readers.ecotaxa import read_ecotaxa, write_ecotaxa

    _threads(threads)
    features, _ = _features(dataset, model)
    labels, confidence = ClassificationHead.load(head).predict(features, threshold)
    objects = read_ecotaxa(dataset)
    table = objects.table
    open_ = table["annotation_status"] != "validated"
    table.loc[open_, "taxon"] = [lab for lab, o in zip(labels, open_, strict=True) if o]
    table.loc[open_, "annotation_status"] = [
        "predicted" if lab else "unclassified" for lab, o in zip(labels, open_, strict=True) if o
    ]
    table["object_hfm_confidence"] = confidence
    write_ecotaxa(objects, output, name="predictions")
    assigned = sum(1 for lab, o in zip(labels, open_, strict=True) if o and lab)
    typer.echo(f"{output}: {assigned} of {int(open_.sum())} unvalidated objects assigned a category")


@app.command("traits")
def traits(
    source: Path = typer.Argument(..., help=SOURCE_HELP),
    output: Path = typer.Argument(..., help="CSV to write: object_id and traits in micrometres."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size in um for rows that give none."),
) -> None:
    """Equivalent spherical diameter, area, axes and biovolume of every object, measured on the original image."""
    from hfm.plankton.metrics import TRAIT_NAMES, measure_traits
    from hfm.plankton.readers import read_source
    from hfm.plankton.readers.images import decode_image
    from hfm.shared.errors import InvalidInput

    objects = read_source(source, pixel_size_um=pixel_size)
    rows = []
    for row in range(len(objects)):
        record = objects.table.iloc[row]
        entry = {"object_id": record["object_id"], "pixel_size_um": record["pixel_size_um"], "error": ""}
        try:
            if not record["pixel_size_um"] > 0:
                raise InvalidInput("no pixel size (um/px); give --pixel-size", "pixel_size_um", "missing_pixel_size")
            entry |= measure_traits(decode_image(objects.read_image(row)).grey, float(record["pixel_size_um"]))
        except InvalidInput as error:
            entry |= dict.fromkeys(TRAIT_NAMES, np.nan) | {"error": str(error)}
        rows.append(entry)
    pd.DataFrame(rows).to_csv(output, index=False, lineterminator="\n")
    failed = sum(1 for r in rows if r["error"])
    typer.echo(f"{output}: traits of {len(rows) - failed} objects ({failed} could not be measured, see `error`)")


@app.command("assist")
def assist(
    dataset: Path = typer.Argument(..., help="Curated dataset."),
    model: Path = typer.Argument(..., help="Model artifact from `hfm plankton pretrain`."),
    output: Path = typer.Argument(..., help="Folder for clusters.tsv (and decisions.json when labels exist)."),
    clusters: int = typer.Option(12, help="k for k-means; for leiden, resolution = clusters / 10."),
    method: str = typer.Option("kmeans", help="kmeans | leiden."),
    target: float = typer.Option(0.9, help="Accuracy the decision count aims for."),
    threads: int = typer.Option(1, help="CPU threads for torch (0: torch's default)."),
) -> None:
    """Propose clusters for bulk validation; with validated labels, count decisions against one-by-one labelling."""
    from hfm.plankton.experiments.assist import cluster, count_decisions, propose_clusters

    _threads(threads)
    features, table = _features(dataset, model)
    output.mkdir(parents=True, exist_ok=True)
    groups = cluster(features, clusters, method, 0)  # type: ignore[arg-type]
    propose_clusters(features, list(table["object_id"]), groups).to_csv(
        output / "clusters.tsv", sep="\t", index=False, lineterminator="\n"
    )
    message = f"{output / 'clusters.tsv'}: {len(np.unique(groups))} clusters"
    known = (table["annotation_status"] == "validated") & table["taxon"].notna()
    if known.all():
        result = count_decisions(features, table["taxon"].to_numpy(), target, clusters, method)  # type: ignore[arg-type]
        (output / "decisions.json").write_text(json.dumps(result.as_dict(), indent=1) + "\n")
        message += f"; to reach {target:.0%}: bulk {result.bulk}, one by one {result.one_by_one} decisions"
    typer.echo(message)


@app.command("evaluate")
def evaluate(
    output: Path = typer.Argument(..., help="Folder for report.md and results.json."),
    images: Path = typer.Option(None, help="Folder of class sub-folders (default: planktonclas's FlowCam images)."),
    folds: int = typer.Option(5, help="Stratified folds."),
    steps: int = typer.Option(100, help="MAE pretraining steps per fold."),
    seed: int = typer.Option(0, help="Seed of the folds and the models."),
    threads: int = typer.Option(1, help="CPU threads for torch (0: torch's default)."),
) -> None:
    """Cross-validated accuracy and macro-F1 of hfm against the pixel and morphology baselines, side by side."""
    from hfm.plankton.experiments.mae_cv import cross_validate, load_image_folder, markdown_table, planktonclas_images

    _threads(threads)
    root = images or planktonclas_images()
    if root is None:
        raise HFMError("no images: pass --images, or pip install --no-deps planktonclas==0.2.4 for its FlowCam set")
    result = cross_validate(load_image_folder(root), folds, seed, steps)
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (output / "report.md").write_text("# Plankton classification benchmark\n\n" + markdown_table(result))
    typer.echo(markdown_table(result))


@app.command("export-ecotaxa")
def export_ecotaxa(
    source: Path = typer.Argument(..., help=SOURCE_HELP),
    output: Path = typer.Argument(..., help="Folder, or a .zip file, to write the EcoTaxa bundle to."),
    name: str = typer.Option("export", help="The TSV is named ecotaxa_<name>.tsv."),
) -> None:
    """Write any readable source (or a curated dataset) as an EcoTaxa import bundle with its type row."""
    from hfm.plankton.readers import read_source
    from hfm.plankton.readers.ecotaxa import write_ecotaxa

    written = write_ecotaxa(read_source(source), output, name, as_zip=output.suffix.lower() == ".zip")
    typer.echo(str(written))


@app.command("dwc")
def dwc(
    source: Path = typer.Argument(..., help=SOURCE_HELP),
    output: Path = typer.Argument(..., help="Darwin Core occurrence CSV to write."),
) -> None:
    """Darwin Core occurrences (one per object) from the harmonised metadata."""
    from hfm.plankton.contract import to_darwin_core
    from hfm.plankton.readers import read_source

    to_darwin_core(read_source(source).table).to_csv(output, index=False, lineterminator="\n")
    typer.echo(str(output))
