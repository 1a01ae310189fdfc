"""Brain tissue segmentation learnt from synthesised images, tested on real FreeSurfer subjects, against baselines.

One run (`run_tissue_experiment`):
1. MAE pretraining of the hfm encoder on real MR volumes and synthetic images (`radiome-mae-volumes`; the test
   subjects are never among them);
2. for each seed: hfm UNETR fine-tuned from that encoder, the same UNETR from scratch and a MONAI UNet from scratch,
   each on the same SynthSeg-style stream (same seed, label maps, steps, batch, loss, optimiser);
3. baselines needing no training, inside the same brain mask: k-means and multi-Otsu on intensities (3 classes,
   darkest = CSF), N4 bias correction + Atropos (ANTsPy; k-means initialisation, MRF prior) where `antspyx` imports;
4. every method segments each test subject on its native 1 mm grid; Dice and HD95 of CSF/GM/WM (MONAI), and per
   axial slab the confusion counts behind the paired intervals;
5. label efficiency: the hfm UNETR pretrained vs from scratch, generator fed 1, 2, 5, 10 or 20 label maps;
6. speed: seconds to segment the 256^3 1 mm niivue volume (mask crop, 2 mm sliding windows, upsampling).

Intervals (`pooled_dice_interval`): with two subjects a bootstrap over subjects is degenerate, so each subject's
brain is cut into `slabs` axial slabs; a resample draws slabs with replacement within each subject (the same slabs
for both methods), pools the per-class counts of the drawn slabs (and of the seeds) into Dice per subject, and takes
the mean over classes and subjects. The 95% percentile interval of hfm - baseline is over 2000 resamples. Slabs of
one brain are not independent, so this interval speaks for these two brains, not for a population.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfm.radiome.baselines import cluster_intensities
from hfm.radiome.synthseg_train import MAEVolumesTask, SynthSegTask, segment_subject, train_task
from hfm.radiome.tissue import CSF, GM, TISSUE_NAMES, WM, Subject, load_test_subjects, tissue_metrics
from hfm.shared.jsonio import dump_json, write_atomic

HFM = "hfm UNETR (MAE-pretrained)"
HFM_SCRATCH = "hfm UNETR (scratch)"
UNET = "MONAI UNet (scratch)"
KMEANS, OTSU, ATROPOS = "k-means (3 clusters)", "multi-Otsu (3 classes)", "N4 + Atropos (ANTs)"
LEARNED = (HFM, HFM_SCRATCH, UNET)
# HD95 of a class absent from the prediction is undefined (NaN in MONAI); it scores the diagonal of a 256 mm cube
# instead, so that missing a class entirely is the worst distance rather than a hole in the mean.
MISSING_HD95_MM = float(np.sqrt(3) * 256)


@dataclass
class TissueConfig:
    # Sized for the ~15-minute budget of a 2-core CPU: far too short to converge (see docs/radiome.md).
    steps: int = 80
    pretrain_steps: int = 80
    seeds: tuple[int, ...] = (0,)
    label_maps: int = 20
    efficiency_maps: tuple[int, ...] = (1, 2, 5, 10, 20)
    efficiency_steps: int = 30
    efficiency_seeds: tuple[int, ...] = (0,)
    batch_size: int = 1
    lr: float = 1e-3
    patch: int = 64  # voxels of the 2 mm grid
    model_args: dict[str, Any] = field(default_factory=lambda: {"width": 96, "depth": 4, "heads": 3, "features": 8})
    subjects: tuple[str, ...] = ("voxelmorph", "niivue")
    slabs: int = 8
    speed_repeats: int = 2
    baselines: bool = True  # k-means, multi-Otsu, Atropos (off to run only learned models, e.g. label efficiency)
    hd95: bool = True  # off in the quickstart's smoke run: MONAI's HD95 takes ~10 s per 256^3 subject
    atropos: bool = True
    threads: int = 1
    pretrained: str | None = None  # an MAE artifact folder to start from instead of pretraining here


@dataclass
class Row:
    method: str
    subject: str
    seed: int
    label_maps: int
    dice: dict[str, float]
    hd95: dict[str, float]
    counts: list[list[list[int]]]  # [slab][class CSF/GM/WM][TP, FP, FN]
    train_s: float = 0.0
    segment_s: float = 0.0
    steps: int = 0

    @property
    def mean_dice(self) -> float:
        return float(np.mean([self.dice[n] for n in TISSUE_NAMES]))

    @property
    def mean_hd95(self) -> float:
        return float(np.mean([np.nan_to_num(self.hd95[n], nan=MISSING_HD95_MM) for n in TISSUE_NAMES]))


def slab_counts(prediction: np.ndarray, reference: np.ndarray, mask: np.ndarray, slabs: int) -> list[list[list[int]]]:
    """Per axial slab of the brain mask and per class (CSF, GM, WM): [TP, FP, FN]."""
    where = np.flatnonzero(mask.any(axis=(0, 1)))
    edges = np.linspace(where[0], where[-1] + 1, slabs + 1).round().astype(int)
    out = []
    for i in range(slabs):
        p, r = prediction[..., edges[i] : edges[i + 1]], reference[..., edges[i] : edges[i + 1]]
        out.append(
            [
                [int(((p == c) & (r == c)).sum()), int(((p == c) & (r != c)).sum()), int(((p != c) & (r == c)).sum())]
                for c in (CSF, GM, WM)
            ]
        )
    return out


def _pooled_dice(counts: np.ndarray, classes: Sequence[int] = (0, 1, 2)) -> float:
    """counts (..., slab, class, 3) summed over all but class -> mean Dice over `classes` (0 CSF, 1 GM, 2 WM)."""
    total = counts.reshape(-1, 3, 3).sum(0)[list(classes)]
    tp, fp, fn = total[:, 0], total[:, 1], total[:, 2]
    return float(np.mean(np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 1.0)))


def pooled_dice_interval(
    hfm: dict[str, np.ndarray],
    baseline: dict[str, np.ndarray],
    n_resamples: int = 2000,
    seed: int = 0,
    classes: Sequence[int] = (0, 1, 2),
) -> tuple[float, float, float, float]:
    """(hfm, baseline, low, high): mean over subjects of pooled Dice, and the stratified slab bootstrap interval.

    `hfm[subject]` / `baseline[subject]`: counts (seeds, slabs, 3 classes, 3).
    """
    rng = np.random.default_rng(seed)

    def score(counts: dict[str, np.ndarray], picks: dict[str, np.ndarray] | None) -> float:
        return float(np.mean([_pooled_dice(c[:, picks[s]] if picks else c, classes) for s, c in counts.items()]))

    diffs = np.empty(n_resamples)
    for r in range(n_resamples):
        picks = {s: rng.integers(0, c.shape[1], c.shape[1]) for s, c in hfm.items()}
        diffs[r] = score(hfm, picks) - score(baseline, picks)
    low, high = np.quantile(diffs, [0.025, 0.975])
    return score(hfm, None), score(baseline, None), float(low), float(high)


def atropos_available() -> str | None:
    """None when ANTsPy imports, else why not."""
    try:
        import ants  # noqa: F401
    except ImportError as error:
        return f"antspyx is not installed ({error}); pip install 'hfm-radiome[atropos]'"
    return None


def atropos_segment(image: np.ndarray, mask: np.ndarray, spacing: Sequence[float] = (1, 1, 1)) -> np.ndarray:
    """N4 bias correction, then Atropos (3 classes, k-means initialisation, MRF smoothing 0.1) inside the mask."""
    import ants

    box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in np.nonzero(mask))
    img = ants.from_numpy(np.ascontiguousarray(image[box], np.float32), spacing=tuple(float(s) for s in spacing))
    msk = ants.from_numpy(np.ascontiguousarray(mask[box], np.float32), spacing=tuple(float(s) for s in spacing))
    corrected = ants.n4_bias_field_correction(img, mask=msk)
    result = ants.atropos(a=corrected, x=msk, i="kmeans[3]", m="[0.1,1x1x1]", c="[5,0]")
    classes = result["segmentation"].numpy().astype(np.int64)  # 1..3 inside the mask
    values = corrected.numpy()
    means = [values[classes == k].mean() if (classes == k).any() else np.inf for k in (1, 2, 3)]
    order = np.argsort(means)  # darkest first: CSF, GM, WM
    lookup = np.zeros(4, np.uint8)
    for rank, k in enumerate(order):
        lookup[k + 1] = (CSF, GM, WM)[rank]
    out = np.zeros(image.shape, np.uint8)
    out[box] = lookup[classes]
    out[~mask] = 0
    return out


def evaluate(
    prediction: np.ndarray,
    subject: Subject,
    method: str,
    seed: int,
    label_maps: int,
    slabs: int,
    hd95: bool = True,
    **timing: Any,
) -> Row:
    prediction = np.where(subject.mask, prediction, 0).astype(np.uint8)
    if hd95:
        metrics = tissue_metrics(prediction, subject.reference, subject.spacing)
    else:
        metrics = {n: {"dice": float("nan"), "hd95": float("nan")} for n in TISSUE_NAMES}
    counts = slab_counts(prediction, subject.reference, subject.mask, slabs)
    if not hd95:  # Dice from the counts (the same numbers MONAI gives)
        total = np.asarray(counts).sum(0)
        for i, n in enumerate(TISSUE_NAMES):
            tp, fp, fn = total[i]
            metrics[n]["dice"] = float(2 * tp / max(2 * tp + fp + fn, 1))
    return Row(
        method,
        subject.name,
        seed,
        label_maps,
        {n: m["dice"] for n, m in metrics.items()},
        {n: m["hd95"] for n, m in metrics.items()},
        counts,
        **timing,
    )


@dataclass
class TissueResult:
    rows: list[Row]
    config: TissueConfig
    notes: dict[str, str]
    speed: dict[str, list[float]]
    consistency: dict[str, float] = field(default_factory=dict)  # ITK subject: mean Dice against ITK's k-means

    def select(self, method: str, label_maps: int | None = None, steps: int | None = None) -> list[Row]:
        """Rows of a method; learned ones at these label maps and steps (default: the main comparison's)."""
        maps = self.config.label_maps if label_maps is None else label_maps
        steps = self.config.steps if steps is None else steps
        return [
            r
            for r in self.rows
            if r.method == method and (r.method not in LEARNED or (r.label_maps == maps and r.steps == steps))
        ]

    def counts(self, method: str, label_maps: int | None = None, steps: int | None = None) -> dict[str, np.ndarray]:
        out: dict[str, list] = {}
        for row in self.select(method, label_maps, steps):
            out.setdefault(row.subject, []).append(row.counts)
        return {s: np.asarray(c) for s, c in out.items()}

    def methods(self) -> list[str]:
        return list(dict.fromkeys(r.method for r in self.rows))

    def markdown(self) -> str:
        lines = [
            "| method | subject | seeds | Dice CSF | Dice GM | Dice WM | mean Dice | HD95 CSF/GM/WM mm | "
            "train s | segment s |",
            "|---|---|---|---:|---:|---:|---:|---|---:|---:|",
        ]
        for method in self.methods():
            for subject in self.config.subjects:
                rows = [r for r in self.select(method) if r.subject == subject]
                if not rows:
                    continue
                d = {n: np.mean([r.dice[n] for r in rows]) for n in TISSUE_NAMES}
                h = "/".join(f"{np.nanmean([r.hd95[n] for r in rows]):.1f}" for n in TISSUE_NAMES)
                lines.append(
                    f"| {method} | {subject} | {len(rows)} | {d['CSF']:.3f} | {d['GM']:.3f} | {d['WM']:.3f} | "
                    f"{np.mean(list(d.values())):.3f} | {h} | {np.mean([r.train_s for r in rows]):.0f} | "
                    f"{np.mean([r.segment_s for r in rows]):.1f} |"
                )
        return "\n".join(lines) + "\n"

    def efficiency_markdown(self) -> str:
        steps = self.config.efficiency_steps
        maps = sorted({r.label_maps for r in self.rows if r.method in (HFM, HFM_SCRATCH) and r.steps == steps})
        lines = ["| label maps | " + " | ".join(map(str, maps)) + " |", "|---|" + "---:|" * len(maps)]
        for method in (HFM, HFM_SCRATCH):
            cells = []
            for k in maps:
                rows = self.select(method, k, steps)
                cells.append(f"{np.mean([r.mean_dice for r in rows]):.3f} (n={len(rows)})" if rows else "-")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"


def run_tissue_experiment(work: str | Path, config: TissueConfig | None = None, log: Any = print) -> TissueResult:
    config = config or TissueConfig()
    torch.set_num_threads(config.threads)
    work = Path(work)
    patch = [config.patch] * 3
    subjects = load_test_subjects(config.subjects)
    rows: list[Row] = []
    notes: dict[str, str] = {}

    # 1. pretraining (never on the test subjects)
    if config.pretrained:
        artifact = config.pretrained
        notes["pretraining"] = f"MAE artifact {artifact} (pretrained in an earlier run)"
    else:
        start = time.perf_counter()
        mae_args = {k: v for k, v in config.model_args.items() if k != "features"}
        mae = MAEVolumesTask({"patch": patch, "seed": 0, "label_maps": config.label_maps, "model_args": mae_args})
        mae_model, _ = train_task(mae, "radiome-mae-volumes", work / "mae", config.pretrain_steps, 2, config.lr, 0)
        notes["pretraining"] = f"MAE {config.pretrain_steps} steps at batch 2 in {time.perf_counter() - start:.0f} s"
        artifact = _encoder_artifact(work, mae_model, config)
    log(f"radiome tissue: {notes['pretraining']}")
    learned_models: dict[str, torch.nn.Module] = {}

    def learned(method: str, seed: int, maps: int, steps: int, hd95: bool = True) -> None:
        """Train one learned method on the synthetic stream and segment every subject with it."""
        unet = method == UNET
        options = {
            "label_maps": maps,
            "seed": seed,
            "patch": patch,
            "model": "radiome-unet-baseline" if unet else "radiome-unetr-tiny",
            "model_args": {} if unet else config.model_args,
        }
        if method == HFM:
            options["pretrained"] = artifact
        t0 = time.perf_counter()
        kind = f"{method.split()[1].lower()}-{method.split()[-1].strip('()')}"
        folder = work / "runs" / f"{kind}-maps{maps}-seed{seed}-steps{steps}"
        model, _ = train_task(
            SynthSegTask(options), "radiome-synthseg", folder, steps, config.batch_size, config.lr, seed
        )
        train_s = time.perf_counter() - t0
        for subject in subjects:
            t1 = time.perf_counter()
            prediction = segment_subject(model, subject.image, subject.mask, patch)
            seg_s = time.perf_counter() - t1
            rows.append(
                evaluate(
                    prediction,
                    subject,
                    method,
                    seed,
                    maps,
                    config.slabs,
                    hd95,
                    train_s=train_s,
                    segment_s=seg_s,
                    steps=steps,
                )
            )
            _append(work / "rows.jsonl", rows[-1])
        log(
            f"radiome tissue: {method} maps={maps} seed={seed} steps={steps} ({train_s:.0f} s): "
            + ", ".join(f"{r.subject} {r.mean_dice:.3f}" for r in rows[-len(subjects) :])
        )
        if maps == config.label_maps and config.seeds and seed == config.seeds[0] and method in (HFM, UNET):
            learned_models[method] = model

    # 2. the learned methods on the same stream
    for seed in config.seeds:
        for method in LEARNED:
            learned(method, seed, config.label_maps, config.steps, config.hd95)

    # 3. classical baselines, same mask
    reason = atropos_available() if config.atropos else "Atropos switched off in this configuration"
    if reason:
        notes["atropos"] = reason
    for subject in subjects if config.baselines else []:
        for method, segment in ((KMEANS, "kmeans"), (OTSU, "otsu")):
            t1 = time.perf_counter()
            prediction = cluster_intensities(subject.image, subject.mask, (CSF, GM, WM), segment, 0)
            seconds = time.perf_counter() - t1
            rows.append(evaluate(prediction, subject, method, 0, 0, config.slabs, config.hd95, segment_s=seconds))
            _append(work / "rows.jsonl", rows[-1])
        if reason is None:
            t1 = time.perf_counter()
            prediction = atropos_segment(subject.image, subject.mask, subject.spacing)
            seconds = time.perf_counter() - t1
            rows.append(evaluate(prediction, subject, ATROPOS, 0, 0, config.slabs, config.hd95, segment_s=seconds))
            _append(work / "rows.jsonl", rows[-1])
    log("radiome tissue: baselines done")

    # 5. speed on the 256^3 subject
    speed: dict[str, list[float]] = {}
    big = next((s for s in subjects if s.image.shape == (256, 256, 256)), None)
    if big is not None and config.speed_repeats > 0:
        for name, model in learned_models.items():
            speed[name] = []
            for _ in range(config.speed_repeats):
                t1 = time.perf_counter()
                segment_subject(model, big.image, big.mask, patch)
                speed[name].append(time.perf_counter() - t1)
    write_atomic(work / "speed.json", dump_json(speed))
    log(f"radiome tissue: speed {speed}")
    consistency = itk_consistency(learned_models.get(HFM), patch, notes)
    if consistency:
        write_atomic(work / "itk_consistency.json", dump_json(consistency))
    # 6. label efficiency (Dice only: HD95 costs more than it tells here)
    for maps in config.efficiency_maps:
        for seed in config.efficiency_seeds:
            if maps == config.label_maps and seed in config.seeds and config.efficiency_steps == config.steps:
                continue  # measured above: the same run
            for method in (HFM, HFM_SCRATCH):
                learned(method, seed, maps, config.efficiency_steps, hd95=False)

    result = TissueResult(rows, config, notes, speed, consistency)
    summary = {"config": asdict(config), "notes": notes, "speed": speed, "rows": [asdict(r) for r in rows]}
    write_atomic(work / "tissue_results.json", dump_json(summary))
    (work / "tissue_results.md").write_text(result.markdown() + "\n" + result.efficiency_markdown())
    return result


def itk_consistency(model: torch.nn.Module | None, patch: Sequence[int], notes: dict[str, str]) -> dict[str, float]:
    """Mean CSF/GM/WM Dice against ITK's own k-means of its example T1, for hfm and our k-means (where installed)."""
    from hfm.radiome.synthseg_train import segment_any_grid
    from hfm.radiome.tissue import itk_subject

    if model is None:
        return {}
    try:
        subject = itk_subject()
    except FileNotFoundError as error:
        notes["itk"] = f"consistency check left out: {error}"
        return {}
    out = {}
    for name, prediction in (
        (HFM, segment_any_grid(model, subject, patch)),
        (KMEANS, cluster_intensities(subject.image, subject.mask, (CSF, GM, WM), "kmeans", 0)),
    ):
        counts = np.asarray(slab_counts(prediction, subject.reference, subject.mask, 1))[None]
        out[name] = _pooled_dice(counts)
    return out


def _append(path: Path, row: Row) -> None:
    """One line per evaluated run, written as it finishes: a run cut short keeps what it measured."""
    import json

    with path.open("a") as handle:
        handle.write(json.dumps(asdict(row)) + "\n")


def load_result(work: str | Path, config: TissueConfig) -> TissueResult:
    """Rebuild a (possibly partial) result from a run folder's rows.jsonl and speed.json."""
    import json

    work = Path(work)
    rows = [Row(**json.loads(line)) for line in (work / "rows.jsonl").read_text().splitlines() if line.strip()]
    speed = json.loads((work / "speed.json").read_text()) if (work / "speed.json").exists() else {}
    return TissueResult(rows, config, {"partial": "rebuilt from rows.jsonl"}, speed)


def _encoder_artifact(work: Path, mae_model: torch.nn.Module, config: TissueConfig) -> str:
    """Export the MAE as a model artifact, whose `encoder.*` weights the segmenter loads (`pretrained` option)."""
    from hfm.shared.artifacts import ModelCard, export_model

    card = ModelCard(
        name="radiome-mae-tiny (brain MR, 2 mm)",
        intended_use="initialising radiome tissue segmenters; a demonstration-scale model",
        limitations=f"{config.pretrain_steps} steps on real MR crops (MNI152, FLAIR) and synthetic images, 2 mm",
    )
    return str(export_model(mae_model, work / "mae-export", {}, card))


COMMAND = "python tools/bench.py --only radiome"
TASK = "radiome/brain tissue (real FreeSurfer subjects)"
SLAB_METHOD = (
    "stratified paired bootstrap over axial brain slabs ({slabs} per subject, resampled within each subject, same "
    "slabs for both methods), per-class counts pooled over the drawn slabs and {seeds} seed(s) into Dice per "
    "subject, mean over CSF/GM/WM and the 2 subjects; 2000 resamples, 95% percentile interval"
)


def tissue_figures(result: TissueResult, command: str = COMMAND) -> list[Any]:
    """Figures: mean Dice and HD95 against the strongest baseline, label efficiency, speed on a 256^3 volume."""
    from hfm.shared.eval.figures import Figure
    from hfm.shared.eval.stats import paired_bootstrap

    c = result.config
    n_subjects = len(c.subjects)
    figures: list[Any] = []
    baselines = [m for m in result.methods() if m != HFM and result.select(m)]
    hfm_counts = result.counts(HFM)
    scores = {m: pooled_dice_interval(hfm_counts, result.counts(m)) for m in baselines}
    strongest = max(baselines, key=lambda m: scores[m][1])
    value, base, low, high = scores[strongest]
    per_subject = "; ".join(
        f"{r.subject} seed {r.seed}: CSF {r.dice['CSF']:.3f} GM {r.dice['GM']:.3f} WM {r.dice['WM']:.3f}"
        for r in result.select(HFM)
    )
    figures.append(
        Figure(
            name=f"mean CSF/GM/WM Dice on {n_subjects} real FreeSurfer subject(s): hfm vs strongest baseline",
            task=TASK,
            metric="Dice",
            higher_is_better=True,
            value=value,
            baseline=base,
            baseline_name=strongest,
            n_test=n_subjects * c.slabs,
            test_unit=f"axial brain slabs ({c.slabs} per subject, {n_subjects} subject(s))",
            interval=(low, high),
            interval_method=SLAB_METHOD.format(slabs=c.slabs, seeds=len(c.seeds)),
            unit="Dice",
            command=command,
            headline=True,
            others={m: scores[m][1] for m in baselines if m != strongest},
            goal="mean Dice >= 0.85 and above every baseline",
            notes=f"trained only on synthetic images from {c.label_maps} SynthSeg label maps, {c.steps} steps, "
            f"2 mm, patch {c.patch}^3; scored on the native 1 mm grid; hfm per run: {per_subject}; {result.notes}",
        )
    )

    tissue = {m: pooled_dice_interval(hfm_counts, result.counts(m), classes=(1, 2)) for m in baselines}
    best = max(baselines, key=lambda m: tissue[m][1])
    value, base, low, high = tissue[best]
    figures.append(
        Figure(
            name=f"mean GM/WM Dice (no CSF) on {n_subjects} real FreeSurfer subject(s): hfm vs strongest baseline",
            task=TASK,
            metric="Dice GM/WM",
            higher_is_better=True,
            value=value,
            baseline=base,
            baseline_name=best,
            n_test=n_subjects * c.slabs,
            test_unit=f"axial brain slabs ({c.slabs} per subject, {n_subjects} subject(s))",
            interval=(low, high),
            interval_method=SLAB_METHOD.format(slabs=c.slabs, seeds=len(c.seeds)).replace("CSF/GM/WM", "GM/WM"),
            unit="Dice",
            command=command,
            others={m: tissue[m][1] for m in baselines if m != best},
            notes="the references' CSF is the ventricles only (FreeSurfer aseg); this figure shows the two tissues "
            "every method is asked to find",
        )
    )

    # HD95: units are (subject, seed); classical baselines repeat their one value over seeds
    def hd_units(method: str) -> list[float]:
        out = []
        for subject in c.subjects:
            rows = [r for r in result.select(method) if r.subject == subject]
            for i, _seed in enumerate(c.seeds):
                out.append(rows[min(i, len(rows) - 1)].mean_hd95)
        return out

    hfm_hd = hd_units(HFM)
    hd = {m: hd_units(m) for m in baselines}
    finite = [m for m in baselines if np.all(np.isfinite(hd[m]))]
    if finite and np.all(np.isfinite(hfm_hd)):
        best = min(finite, key=lambda m: float(np.mean(hd[m])))
        _diff, low, high = paired_bootstrap(hfm_hd, hd[best])
        figures.append(
            Figure(
                name="mean CSF/GM/WM 95% Hausdorff distance, two real subjects: hfm vs strongest baseline",
                task=TASK,
                metric="HD95",
                higher_is_better=False,
                value=float(np.mean(hfm_hd)),
                baseline=float(np.mean(hd[best])),
                baseline_name=best,
                n_test=len(hfm_hd),
                test_unit="subject x seed",
                interval=(low, high),
                interval_method="paired bootstrap over (subject, seed) units, 2000 resamples; with 2 subjects "
                "it mostly reflects seeds",
                unit="mm",
                command=command,
                others={m: float(np.mean(hd[m])) for m in finite if m != best},
            )
        )

    # label efficiency: pretrained vs scratch at each number of label maps
    e_steps = c.efficiency_steps
    maps_run = sorted({r.label_maps for r in result.rows if r.method == HFM_SCRATCH and r.steps == e_steps})
    for maps in maps_run:
        a, b = result.counts(HFM, maps, e_steps), result.counts(HFM_SCRATCH, maps, e_steps)
        if not a or not b:
            continue
        value, base, low, high = pooled_dice_interval(a, b)
        seeds = len(next(iter(a.values())))
        figures.append(
            Figure(
                name=f"label efficiency: Dice with {maps} label map(s), hfm pretrained vs scratch",
                task=TASK,
                metric="Dice",
                higher_is_better=True,
                value=value,
                baseline=base,
                baseline_name=HFM_SCRATCH,
                n_test=n_subjects * c.slabs,
                test_unit="axial brain slabs",
                interval=(low, high),
                interval_method=SLAB_METHOD.format(slabs=c.slabs, seeds=seeds),
                unit="Dice",
                command=command,
                notes=f"{e_steps} training steps per run",
            )
        )
    few, many = result.counts(HFM, 2, e_steps), result.counts(HFM_SCRATCH, max(maps_run, default=0), e_steps)
    if few and many:
        value, base, low, high = pooled_dice_interval(few, many)
        figures.append(
            Figure(
                name=f"label efficiency: hfm pretrained with 2 label maps vs scratch with {max(maps_run)}",
                task=TASK,
                metric="Dice",
                higher_is_better=True,
                value=value,
                baseline=base,
                baseline_name=f"{HFM_SCRATCH}, {max(maps_run)} maps",
                n_test=n_subjects * c.slabs,
                test_unit="axial brain slabs",
                interval=(low, high),
                interval_method=SLAB_METHOD.format(slabs=c.slabs, seeds="their"),
                unit="Dice",
                command=command,
                goal="pretrained with 2 label maps >= scratch with 20",
            )
        )

    if result.consistency:
        figures.append(
            Figure(
                name="agreement with ITK's k-means segmentation of its example T1 (mean CSF/GM/WM Dice)",
                task="radiome/ITK example T1",
                metric="Dice",
                higher_is_better=True,
                value=result.consistency[HFM],
                baseline=result.consistency[KMEANS],
                baseline_name=KMEANS,
                n_test=1,
                test_unit="subject",
                interval=(float("nan"), float("nan")),
                interval_method="none: one subject whose reference is another algorithm's output",
                unit="Dice",
                command=command,
                reference="consistency check",
                notes="ITK labels 4/5/6 -> CSF/GM/WM; 2 x 2 x 3 mm subject resampled to 1 mm for hfm and back",
            )
        )
    if result.speed.get(HFM) and result.speed.get(UNET):
        mine, theirs = result.speed[HFM], result.speed[UNET]
        _diff, low, high = paired_bootstrap(mine, theirs) if len(mine) > 1 else (0.0, float("nan"), float("nan"))
        figures.append(
            Figure(
                name="seconds to segment a 256^3 1 mm volume (niivue), hfm vs MONAI UNet",
                task="radiome/speed",
                metric="seconds",
                higher_is_better=False,
                value=float(np.mean(mine)),
                baseline=float(np.mean(theirs)),
                baseline_name=UNET,
                n_test=len(mine),
                test_unit="repeats",
                interval=(low, high),
                interval_method="paired bootstrap over repeats",
                unit="s",
                command=command,
                goal="under 60 s on the 2-core machine",
                notes="brain-mask crop, 2 mm sliding windows (64^3, overlap 0.5, Gaussian), probabilities upsampled to "
                f"1 mm; {c.threads} torch thread(s)",
            )
        )
    return figures
