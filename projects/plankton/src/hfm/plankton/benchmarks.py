"""Benchmarks for `tools/bench.py` (declared in the plugin): `hfm.shared.eval.figures.Figure`s, each hfm
result beside its strongest baseline measured in the same run (the others in `others`).

The multi-instrument study (`hfm.plankton.experiments.study`): one corpus (Bering Sea, WHOI wiki, IFCB bins,
FlowCam), two contrastively pretrained encoders, each evaluation on an encoder that never saw its images.

- plankton-bering-sea / plankton-flowcam: 5 x 5 repeated stratified CV, macro-F1, both hfm heads against pixels +
  logistic regression, morphology + random forest and a scratch CNN; Nadeau-Bengio corrected intervals.
- plankton-whoi-fewshot: leave-one-out 1-NN on the 187-class WHOI wiki, hfm embeddings vs pixels and morphology.
- plankton-label-efficiency: Bering Sea at 10 %, 25 %, 100 % of labels, frozen encoder vs scratch CNN, 5 folds;
  hfm's semi-supervised classifier (from per-fold in-domain encoders) at 10 % and 25 % against the scratch CNN at
  100 %, and its FixMatch CNN against the same training from random weights at 10 %.
- plankton-assist: decisions to reach 90 % accuracy on Bering Sea, validation pages of hfm's predictions vs one by
  one (and bulk validation of k-means clusters).
- plankton-loader: images/s of the hfm loader (curated canvases) against a plain PIL + DataLoader loop.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from threadpoolctl import threadpool_limits
from torch.utils.data import DataLoader, Dataset

from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.data import CuratedPlanktonDataset
from hfm.plankton.data.stream import plankton_stream
from hfm.plankton.experiments.crossval import CVResult
from hfm.plankton.experiments.mae_cv import planktonclas_images
from hfm.plankton.experiments.study import (
    BASELINES,
    EVALUATION_ENCODER,
    HFM_FINETUNED,
    HFM_HYBRID,
    HFM_LINEAR,
    HFM_SEMI,
    MORPHOLOGY,
    PIXELS,
    SCRATCH,
    annotation_assist,
    evaluate_source,
    few_shot,
    load_study,
)
from hfm.plankton.experiments.study import label_efficiency as study_label_efficiency
from hfm.plankton.readers.folders import read_image_folder
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import mean_confidence_interval, nadeau_bengio_ttest, paired_bootstrap
from hfm.shared.eval.throughput import Pass, paired_rates, throughput_figure
from hfm.shared.shard_curation import Sharding
from hfm.shared.shard_loader import ShardLoader


def _images() -> Path:
    root = planktonclas_images()
    if root is None:
        raise HFMError("planktonclas is not installed: pip install --no-deps planktonclas==0.2.4")
    _single_thread()
    return root


def _single_thread() -> None:
    torch.set_num_threads(1)
    threadpool_limits(1)


def _cv_figures(source: str, task: str, command: str) -> list[Figure]:
    """Both hfm heads, each against the strongest baseline by mean macro-F1; every comparison's interval noted."""
    study = load_study()
    result = evaluate_source(study, source)
    table = result.table()
    strongest = max(BASELINES, key=lambda b: table[b]["macro_f1"])
    figures = []
    for hfm in (HFM_HYBRID, HFM_LINEAR, HFM_FINETUNED):
        tests = {b: result.compare(hfm, b) for b in BASELINES}
        test = tests[strongest]
        notes = "; ".join(
            f"vs {b}: {t.estimate:+.3f} [{t.low:+.3f}, {t.high:+.3f}] p={t.p_value:.3f} over {t.n} folds"
            for b, t in tests.items()
        )
        figures.append(
            cv_figure(
                result,
                hfm,
                strongest,
                task,
                command,
                f"Nadeau-Bengio corrected t over {test.n} paired folds "
                f"({result.repeats}x{result.folds} CV; {SCRATCH} and {HFM_FINETUNED} on the first repeat)",
                unit="macro-F1",
                headline=hfm == HFM_HYBRID,
                others={b: table[b]["macro_f1"] for b in BASELINES if b != strongest}
                | {h: table[h]["macro_f1"] for h in (HFM_LINEAR, HFM_HYBRID, HFM_FINETUNED) if h != hfm},
                goal=">= morphology + random forest, interval above zero",
                notes=f"accuracy {table[hfm]['accuracy']:.3f}; encoder {EVALUATION_ENCODER[source]} "
                f"(pretrained without this set); {notes}",
            )
        )
    return figures


def cv_figure(
    result: CVResult, hfm: str, strongest: str, title: str, command: str, interval_method: str, **extra: Any
) -> Figure:
    """macro-F1 of one hfm method against a baseline over the same CV folds, with the corrected paired interval."""
    table, test = result.table(), result.compare(hfm, strongest)
    return Figure(
        name=f"{title}: macro-F1, {hfm} vs {strongest}",
        task=f"plankton/{title}",
        metric="macro-F1",
        higher_is_better=True,
        value=table[hfm]["macro_f1"],
        baseline=table[strongest]["macro_f1"],
        baseline_name=strongest,
        n_test=result.n,
        test_unit="images",
        interval=(test.low, test.high),
        interval_method=interval_method,
        command=command,
        **extra,
    )


def bering_sea_figures() -> list[Figure]:
    return _cv_figures("bering-sea", "Bering Sea 7 classes", "python tools/bench.py --only plankton-bering-sea")


def flowcam_figures() -> list[Figure]:
    return _cv_figures(
        "flowcam", "FlowCam 6 classes (cross-instrument)", "python tools/bench.py --only plankton-flowcam"
    )


def few_shot_figures() -> list[Figure]:
    study = load_study()
    scores = few_shot(study)
    n = len(scores["labels"])
    strongest = max((PIXELS, MORPHOLOGY), key=lambda b: scores[b].mean())
    _, low, high = paired_bootstrap(scores[HFM_LINEAR], scores[strongest], clusters=scores["labels"], seed=0)
    return [
        Figure(
            name="WHOI wiki few-shot: leave-one-out 1-NN accuracy, hfm embeddings vs " + strongest.split(" +")[0],
            task="plankton/WHOI few-shot (187 classes)",
            metric="accuracy",
            higher_is_better=True,
            value=float(scores[HFM_LINEAR].mean()),
            baseline=float(scores[strongest].mean()),
            baseline_name=strongest.split(" +")[0] + " (1-NN)",
            n_test=n,
            test_unit="images",
            interval=(low, high),
            interval_method="paired bootstrap over classes (clusters), 2000 resamples",
            unit="accuracy",
            command="python tools/bench.py --only plankton-whoi-fewshot",
            others={b.split(" +")[0] + " (1-NN)": float(scores[b].mean()) for b in (PIXELS, MORPHOLOGY)},
            notes=f"{len(set(scores['labels']))} classes with >= 2 images; encoder pretrained without WHOI/FlowCam",
        )
    ]


FIXMATCH_RANDOM = "FixMatch CNN from random weights (same images and steps)"


def label_efficiency_figures(out_dir: str | Path = "benchmarks/plankton") -> list[Figure]:
    study = load_study()
    curve = study_label_efficiency(study)
    fractions, n_test = curve["fractions"], curve["n_test"]
    figures = []

    def figure(
        name: str,
        hfm: list[float],
        scratch: list[float],
        n_train: int,
        goal: str = "",
        hybrid: list[float] = (),
        baseline_name: str = SCRATCH,
    ) -> Figure:
        test = nadeau_bengio_ttest(np.subtract(hfm, scratch), n_train, n_test)
        return Figure(
            name=name,
            task="plankton/Bering Sea label efficiency",
            metric="macro-F1",
            higher_is_better=True,
            value=float(np.mean(hfm)),
            baseline=float(np.mean(scratch)),
            baseline_name=baseline_name,
            n_test=n_test * len(hfm),
            test_unit="images",
            interval=(test.low, test.high),
            interval_method=f"Nadeau-Bengio corrected t over {len(hfm)} folds (seeds)",
            unit="macro-F1",
            command="python tools/bench.py --only plankton-label-efficiency",
            goal=goal,
            others={"hfm hybrid head (same subset)": float(np.mean(hybrid))} if len(hybrid) else {},
            notes=f"{n_train} training images per fold",
        )

    # (name, hfm method, its fraction, the scratch CNN's fraction, training images, goal): every fraction against
    # the scratch CNN at the same one, then the lowest fraction against the scratch CNN at 100 %.
    low, full, n_full = fractions[0], fractions[-1], curve["n_train"][-1]
    rows = [
        (f"Bering Sea {f:.0%} labels: {what}", key, f, f, n, "")
        for f, n in zip(fractions, curve["n_train"], strict=True)
        for key, what in (
            ("hfm", "frozen encoder + linear head vs scratch CNN"),
            ("finetuned", "fine-tuned encoder vs scratch CNN (same recipe)"),
        )
    ]
    rows += [
        (
            "Bering Sea: fine-tuned encoder at 10% labels vs scratch CNN at 100%",
            "finetuned",
            low,
            full,
            n_full,
            ">= scratch at 100%",
        ),
        ("Bering Sea: hfm at 10% labels vs scratch CNN at 100%", "hfm", low, full, n_full, ">= scratch at 100%"),
    ]
    # hfm's semi-supervised classifier (labelled subset + the training fold's other images unlabelled) at each
    # fraction below 100 % against the scratch CNN on every label; the goal's row is the lowest fraction.
    rows += [
        (
            f"Bering Sea: hfm semi-supervised at {f:.0%} labels vs scratch CNN at 100%",
            "semi",
            f,
            full,
            n_full,
            ">= scratch at 100%" if f == low else "",
        )
        for f in fractions
        if f in curve["semi"]
    ]
    for name, key, ours, theirs, n_train, goal in rows:
        hybrid = curve["hybrid"][ours] if key in ("hfm", "semi") else ()
        figures.append(figure(name, curve[key][ours], curve["scratch"][theirs], n_train, goal, hybrid))
    # The fair same-fraction peer of the semi-supervised CNN: the same FixMatch training (labelled subset, unlabelled
    # pool, steps, seed) from random weights, so the pair isolates what pretraining adds.
    for f, n in zip(fractions, curve["n_train"], strict=True):
        if f in curve["fixmatch_random"]:
            figures.append(
                figure(
                    f"Bering Sea {f:.0%} labels: FixMatch from the in-fold encoder vs FixMatch from random weights",
                    curve["fixmatch"][f],
                    curve["fixmatch_random"][f],
                    n,
                    baseline_name=FIXMATCH_RANDOM,
                )
            )
    _plot_curve(curve, Path(out_dir))
    return figures


def _plot_curve(curve: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(5, 3.5))
    methods = (("hfm", HFM_LINEAR), ("hybrid", HFM_HYBRID), ("finetuned", HFM_FINETUNED), ("scratch", SCRATCH))
    for key, label in (*methods, ("semi", HFM_SEMI), ("fixmatch_random", FIXMATCH_RANDOM)):
        shown = [(n, f) for n, f in zip(curve["n_train"], curve["fractions"], strict=True) if f in curve[key]]
        means = [np.mean(curve[key][f]) for _, f in shown]
        spread = [np.std(curve[key][f]) for _, f in shown]
        ax.errorbar([n for n, _ in shown], means, yerr=spread, marker="o", capsize=3, label=label)
    ax.set_xscale("log")
    ax.set_xlabel("labelled training images")
    ax.set_ylabel("macro-F1 (5 folds, mean +- sd)")
    ax.set_title("Bering Sea, 7 classes")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_dir / "label_efficiency.png", dpi=120)
    plt.close(fig)


def assist_figures() -> list[Figure]:
    study = load_study()
    result = annotation_assist(study)
    n, one_by_one = result["n"], result["decisions_one_by_one"]
    pages = np.array([n if d is None else d for d in result["decisions_pages_by_seed"]], dtype=float)
    _, low, high = mean_confidence_interval(pages - one_by_one)
    seeds = len(pages)
    return [
        Figure(
            name="Bering Sea: decisions to 90% accuracy, validation pages of hfm predictions vs one by one",
            task="plankton/annotation assist",
            metric="decisions",
            higher_is_better=False,
            value=float(pages.mean()),
            baseline=float(one_by_one),
            baseline_name="one by one",
            n_test=n,
            test_unit="images",
            interval=(low, high),
            interval_method=f"Student-t over {seeds} seeds of the paired difference (oracle annotator; one by one is "
            "a fixed count)",
            unit="decisions",
            command="python tools/bench.py --only plankton-assist",
            others={
                "one by one + classifier": float(result["decisions_one_by_one_classifier"] or n),
                "bulk k-means clusters": float(result["decisions_bulk"] or n),
            },
            goal="<= 0.3 x one by one",
            notes=f"pages of 30 by seed {[int(p) for p in pages]} ({pages.mean() / one_by_one:.3f} x one by one); "
            f"bulk: k-means {result['clusters']} clusters (sqrt n) on the encoder pretrained without Bering Sea, "
            f"purity {result['cluster_purity']:.2f} (seed 0)",
        )
    ]


class _PlainPILDataset(Dataset):
    """What one writes without hfm: open the file, grey, resize to the canvas, to a tensor."""

    def __init__(self, paths: list[Path], side: int) -> None:
        self.paths, self.side = paths, side

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        with Image.open(self.paths[index]) as image:
            grey = image.convert("L").resize((self.side, self.side), Image.BILINEAR)
        return torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255.0)[None]


def _loader_pass(loader: DataLoader) -> Pass:
    def run() -> int:
        return sum(len(batch[0]) if isinstance(batch, list | tuple) else len(batch) for batch in loader)

    return run


def loader_figures() -> list[Figure]:
    root = _images()
    objects = read_image_folder(root, "FlowCam", 1.0)
    describe = DatasetDescription("planktonclas-flowcam", "LicenseRef-planktonclas-demo", ["planktonclas authors"])
    plain = DataLoader(_PlainPILDataset([root / p for p in objects.table["image_path"]], 64), batch_size=32)
    with tempfile.TemporaryDirectory() as scratch:
        dataset = Path(scratch) / "dataset"
        curate_objects(objects, dataset, describe, CurationConfig(canvas=64), show_progress=False)
        ours = DataLoader(CuratedPlanktonDataset(dataset), batch_size=32)
        rates = paired_rates(_loader_pass(ours), _loader_pass(plain), repeats=5)
        # The same images curated in shards of 1000 (one here), streamed as training streams them (issue 18)
        sharded = Path(scratch) / "sharded"
        config = CurationConfig(canvas=64)
        curate_objects(objects, sharded, describe, config, show_progress=False, sharding=Sharding(1000, workers=1))
        streamed = ShardLoader(plankton_stream(sharded), batch_size=32)
        stream_rates = paired_rates(_loader_pass(streamed), _loader_pass(ours), repeats=5)
    return [
        throughput_figure(
            rates,
            name="loader images/s, hfm curated vs plain PIL+DataLoader",
            task="plankton/loader",
            item="images",
            baseline_name="plain PIL + DataLoader",
            command="python tools/bench.py --only plankton-loader",
            notes="batch 32, no workers; the hfm loader reads 16-bit canvases with pixel size, the plain loop decodes "
            "JPEGs and resizes (no scale kept)",
        ),
        throughput_figure(
            stream_rates,
            name="loader images/s, sharded stream vs hfm curated (indexed)",
            task="plankton/loader",
            item="images",
            baseline_name="hfm curated, indexed DataLoader",
            command="python tools/bench.py --only plankton-loader",
            notes="batch 32, no workers, the same images; the stream (ShardLoader over shards of 1000, as the trainer "
            "reads a sharded dataset) parses each shard table (EcoTaxa TSV) once for its life (a bounded cache), "
            "then decodes each canvas as the indexed loader does; the indexed loader parses its table once, before "
            "the timed passes",
        ),
    ]
