"""`hfm plankton curate | pretrain | finetune | predict | evaluate | benchmark`, with the shared arguments.

Beside them, operations the other domains do not have: `probe` (a class-weighted head on a frozen encoder's
embeddings, JSON), `assist` (cluster proposals for bulk validation), `traits` (sizes in micrometres),
`export-ecotaxa` and `dwc` (EcoTaxa import bundle, Darwin Core occurrences).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import torch
import typer
from threadpoolctl import threadpool_limits

from hfm.shared.cli.curate_command import CurateRequest, curate_command
from hfm.shared.cli.options import Dataset, Init, Out, Seed, Steps
from hfm.shared.cli.training import TrainingRun, add_training_command
from hfm.shared.errors import HFMError
from hfm.shared.shortcuts import ShortcutResult

app = typer.Typer(
    help="Plankton images: EcoTaxa in and out, curation, MAE encoder, classes, traits.", no_args_is_help=True
)

Source = Annotated[
    Path,
    typer.Argument(
        help="EcoTaxa export (.tsv, .zip or folder), IFCB bin (.hdr), folder of images (one sub-folder per class) "
        "or a curated dataset."
    ),
]
Threads = Annotated[int, typer.Option(help="CPU threads for torch and BLAS (0: their default).")]
Threshold = Annotated[float, typer.Option(help="Below this confidence an object stays unassigned.")]


def _threads(threads: int) -> None:
    """Small models on shared CPUs run faster on one thread than fighting for two (torch and BLAS alike)."""
    if threads > 0:
        torch.set_num_threads(threads)
        threadpool_limits(threads)


@curate_command(app, shard_size=0, shard_help="Objects per shard (an EcoTaxa TSV + images each); 0: one dataset.")
def curate(
    source: Source,
    kind: str = typer.Option("auto", help="auto | ecotaxa | folder | ifcb."),
    instrument: str = typer.Option(None, help="Instrument for rows that name none (FlowCam, IFCB, UVP5, ZooScan...)."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="Pixel size in um for rows that give none."),
    canvas: int = typer.Option(64, help="Side of the square canvas in pixels."),
    fit: str = typer.Option("pad", help="pad: keep resolution, shrink only larger objects; resize: fill the canvas."),
    pack: bool = typer.Option(False, "--pack", help="Each shard (or the dataset) as one uncompressed EcoTaxa zip."),
    *,
    request: CurateRequest,
) -> None:
    """Check every object, write the valid ones as canvases with traits, quarantine the rest with reasons."""
    from hfm.plankton.curate import CurationConfig, curate_plankton
    from hfm.plankton.readers import read_source

    if fit not in ("pad", "resize"):
        raise HFMError(f"--fit {fit!r}: use pad or resize")
    describe = request.describe()
    objects = read_source(source, kind, instrument, pixel_size)  # type: ignore[arg-type]
    config = CurationConfig(canvas=canvas, fit=fit)  # type: ignore[arg-type]
    done = curate_plankton(
        objects,
        request.out,
        describe,
        config,
        show_progress=request.show_progress,
        sharding=request.sharding,
        packed=pack,
    )
    typer.echo(request.line(done.summary))


def _pretrain(run: TrainingRun) -> ShortcutResult:
    from hfm.plankton.training import pretrain

    run.require_model("image-mae-tiny")
    return pretrain(run.dataset, run.out, run.settings, **run.extra)


def _finetune(run: TrainingRun) -> ShortcutResult:
    from hfm.plankton.training import finetune

    run.require_model("plankton-classifier-tiny")
    return finetune(run.dataset, run.out, run.settings, init=run.init, **run.extra)


add_training_command(
    app,
    "pretrain",
    _pretrain,
    help="Masked-autoencoder pretraining on the dataset's images (labels unused); writes OUT/run.yaml (replay: hfm "
    "train OUT/run.yaml) and the model artifact OUT/model.",
    model="image-mae-tiny",
    extra={"width": (int, typer.Option(96, help="Trunk width.")), "depth": (int, typer.Option(4, help="Trunk depth."))},
)
add_training_command(
    app,
    "finetune",
    _finetune,
    help="Fine-tune the classifier on the validated objects (from --init's pretrained encoder); writes OUT/run.yaml "
    "and the model artifact OUT/model.",
    model="plankton-classifier-tiny",
    init=True,
    extra={
        "width": (int, typer.Option(96, help="Trunk width (that of --init's encoder).")),
        "depth": (int, typer.Option(4, help="Trunk depth (that of --init's encoder).")),
        "balanced": (bool, typer.Option(True, help="Weight classes by inverse frequency.")),
    },
)


@app.command("probe")
def probe(
    dataset: Dataset,
    out: Annotated[Path, typer.Option("--out", "-o", help="Head file to write (JSON).")],
    init: Init = None,
    threshold: Threshold = 0.5,
    balanced: bool = typer.Option(True, help="Weight classes by inverse frequency."),
    threads: Threads = 1,
) -> None:
    """A class-weighted logistic head on the frozen embeddings of --init's encoder, fitted on the validated objects
    (no encoder training: seconds on a CPU)."""
    from hfm.plankton.models.heads import ClassificationHead
    from hfm.plankton.predict import embeddings

    _threads(threads)
    features, table = embeddings(dataset, _required(init, "probe"))
    known = (table["annotation_status"] == "validated") & table["taxon"].notna()
    if known.sum() < 2:
        raise HFMError(f"{dataset}: fewer than two validated objects with a taxon; nothing to learn from")
    head = ClassificationHead.fit(
        features[known.to_numpy()],
        table["taxon"][known].to_numpy(),
        "balanced" if balanced else None,
        threshold=threshold,
    )
    head.save(out)
    typer.echo(f"{out}: {len(head.classes)} classes from {int(known.sum())} validated objects")


@app.command("predict")
def predict(
    dataset: Dataset,
    out: Out,
    init: Init = None,
    source: Path = typer.Option(..., help="The raw source DATASET was curated from: its original images go into OUT."),
    kind: str = typer.Option("auto", help="auto | ecotaxa | folder | ifcb (as for curate)."),
    instrument: str = typer.Option(None, help="As given to curate, for rows that name none."),
    pixel_size: float = typer.Option(None, "--pixel-size", help="As given to curate, for rows that give none."),
    head: Path = typer.Option(None, help="A head from `hfm plankton probe`: --init is then the pretrained MAE."),
    threshold: float = typer.Option(
        None,
        help="Below this confidence an object stays unassigned (default: the head's own, 0.5 for a fine-tuned model).",
    ),
    threads: Threads = 1,
) -> None:
    """A category per object: EcoTaxa bundle OUT (the source's original images) with the predictions for re-import;
    validated objects keep theirs, uncertain ones stay unclassified."""
    from hfm.plankton.predict import classify, probe, write_predictions
    from hfm.plankton.readers import read_source

    _threads(threads)
    model = _required(init, "predict")
    if head is not None:
        labels, confidence = probe(dataset, model, head, threshold)
    else:
        labels, confidence = classify(dataset, model, 0.5 if threshold is None else threshold)
    raw = read_source(source, kind, instrument, pixel_size)  # type: ignore[arg-type]
    assigned, open_ = write_predictions(dataset, raw, labels, confidence, out)
    typer.echo(f"{out}: {assigned} of {open_} unvalidated objects assigned a category")


@app.command("assist")
def assist(
    dataset: Dataset,
    out: Out,
    init: Init = None,
    clusters: int = typer.Option(12, help="k for k-means; for leiden, resolution = clusters / 10."),
    method: str = typer.Option("kmeans", help="kmeans | leiden."),
    target: float = typer.Option(0.9, help="Accuracy the decision count aims for."),
    threads: Threads = 1,
) -> None:
    """Propose clusters for bulk validation (on --init's embeddings); with validated labels, count decisions against
    one-by-one labelling."""
    from hfm.plankton.experiments.assist import cluster, count_decisions, propose_clusters
    from hfm.plankton.predict import embeddings

    _threads(threads)
    features, table = embeddings(dataset, _required(init, "assist"))
    out.mkdir(parents=True, exist_ok=True)
    groups = cluster(features, clusters, method, 0)  # type: ignore[arg-type]
    propose_clusters(features, list(table["object_id"]), groups).to_csv(
        out / "clusters.tsv", sep="\t", index=False, lineterminator="\n"
    )
    message = f"{out / 'clusters.tsv'}: {len(np.unique(groups))} clusters"
    known = (table["annotation_status"] == "validated") & table["taxon"].notna()
    if known.all():
        result = count_decisions(features, table["taxon"].to_numpy(), target, clusters, method)  # type: ignore[arg-type]
        (out / "decisions.json").write_text(json.dumps(result.as_dict(), indent=1) + "\n")
        message += f"; to reach {target:.0%}: bulk {result.bulk}, one by one {result.one_by_one} decisions"
    typer.echo(message)


@app.command("evaluate")
def evaluate(
    out: Out,
    images: Path = typer.Option(None, help="Folder of class sub-folders (default: planktonclas's FlowCam images)."),
    folds: int = typer.Option(5, help="Stratified folds."),
    steps: Steps = 100,
    seed: Seed = 0,
    threads: Threads = 1,
) -> None:
    """Cross-validated accuracy and macro-F1 of hfm (MAE pretrained per fold) against the pixel and morphology
    baselines, side by side; OUT/report.md and OUT/results.json."""
    from hfm.plankton.experiments.mae_cv import cross_validate, load_image_folder, markdown_table, planktonclas_images

    _threads(threads)
    root = images or planktonclas_images()
    if root is None:
        raise HFMError("no images: pass --images, or pip install --no-deps planktonclas==0.2.4 for its FlowCam set")
    result = cross_validate(load_image_folder(root), folds, seed, steps)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "report.md").write_text("# Plankton classification benchmark\n\n" + markdown_table(result))
    typer.echo(markdown_table(result))


@app.command("benchmark")
def benchmark(
    out: Out = Path("benchmarks"),
    only: list[str] = typer.Option(None, help="Run only this plankton benchmark (repeatable; default: all six)."),
) -> None:
    """The plankton benchmarks through the shared harness, to OUT/partial/ (like `tools/bench.py --only`)."""
    from hfm.plankton.plugin import plugin
    from hfm.shared.train.benchmark import run_domain_benchmarks

    results, md_path = run_domain_benchmarks("plankton", list(plugin.benchmarks), only, out)
    typer.echo(md_path.read_text())
    if results["failures"]:
        raise typer.Exit(1)


def _required(init: Path | None, verb: str) -> Path:
    if init is None:
        raise HFMError(f"{verb} needs --init MODEL (a model folder from `hfm plankton pretrain` or `finetune`)")
    return init


@app.command("traits")
def traits(
    source: Source,
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV to write: object_id and traits in micrometres.")],
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
    pd.DataFrame(rows).to_csv(out, index=False, lineterminator="\n")
    failed = sum(1 for r in rows if r["error"])
    typer.echo(f"{out}: traits of {len(rows) - failed} objects ({failed} could not be measured, see `error`)")


@app.command("export-ecotaxa")
def export_ecotaxa(
    source: Source,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder, or a .zip file, to write the EcoTaxa bundle to.")],
    name: str = typer.Option("export", help="The TSV is named ecotaxa_<name>.tsv."),
) -> None:
    """Write any readable source (or a curated dataset) as an EcoTaxa import bundle with its type row."""
    from hfm.plankton.readers import read_source
    from hfm.plankton.readers.ecotaxa import write_ecotaxa

    written = write_ecotaxa(read_source(source), out, name, as_zip=out.suffix.lower() == ".zip")
    typer.echo(str(written))


@app.command("dwc")
def dwc(
    source: Source,
    out: Annotated[Path, typer.Option("--out", "-o", help="Darwin Core occurrence CSV to write.")],
) -> None:
    """Darwin Core occurrences (one per object) from the harmonised metadata."""
    from hfm.plankton.contract import to_darwin_core
    from hfm.plankton.readers import read_source

    to_darwin_core(read_source(source).table).to_csv(out, index=False, lineterminator="\n")
    typer.echo(str(out))
