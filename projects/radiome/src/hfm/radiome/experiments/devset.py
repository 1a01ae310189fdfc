"""Dev evaluation of the tissue pipeline: held-out label maps with T1-like contrast, and MNI152; never a test subject.

What the benchmark's choices (the learned models' path, the fluid rule) are made on. One run (`run_dev`):
1. dev cases: SynthSeg's label maps 17-20 (`DevConfig.maps`), which no dev network trains on (they train on maps
   1-16), and lab2im's example label map (a subject outside SynthSeg's 20), each synthesised at 1 mm as a T1-like
   image (`synthetic_case`: class means and spreads drawn from SynthSeg's T1 priors, partial-volume blur, a smooth
   bias field, noise; skull-stripped as FreeSurfer's inputs are, the mask keeping the CSF around the brain);
   reference: the map's tissue classes with SynthSeg's label 24 as background, as in training and as the
   FreeSurfer references have it (only the ventricles are CSF). Beside them
   nilearn's MNI152 2009 T1, a real MR image with an independent tissue reference (the template's population GM/WM
   probability maps; its CSF map is not shipped and would hold sulcal fluid), scored on GM/WM only. MNI152 is among
   the MAE's unlabelled pretraining volumes, so it is a dev check of segmentation, not of pretraining;
2. for each path (`TISSUE_PATHS`: "2mm", "4mm") the benchmark's MAE (maps 1-16 for its synthetic half) and, for
   each seed, the benchmark's hfm UNETR fine-tuned from it on maps 1-16 for the path's steps, through the same
   `learned_options` and trainer as the benchmark;
3. every case segmented as the benchmark segments (`segmenting`), scored by Dice of CSF/GM/WM on the 1 mm grid; the
   same network's posteriors also fused with the other fluid rule and taken alone (diagnostics); k-means + the
   deep-CSF rule (the benchmark's strongest baseline) on every case.
Intervals (`dev_interval`): units are (held-out map, seed) pairs, the same units for both methods; percentile
bootstrap of the paired mean difference (`hfm.shared.eval.stats.paired_bootstrap`). The ITK subject is not used:
its reference is k-means of the same image (circular).

`python -m hfm.radiome.experiments.devset --out DIR [--paths 2mm,4mm] [--seeds 0,1,2] [--no-baseline]` runs it (rows
appended to DIR/dev_rows.jsonl as they finish, so two processes may share DIR, e.g. one per path); `--report`
prints the comparisons of what DIR holds.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import torch

from hfm.radiome.baselines import cluster_intensities
from hfm.radiome.experiments.tissue import (
    HFM,
    KMEANS_DEEP,
    TISSUE_PATHS,
    TissueConfig,
    learned_options,
    pretrain_encoder,
    segmenting,
    tissue_path,
)
from hfm.radiome.predict import keep_deep_csf, subject_posteriors
from hfm.radiome.readers.subjects import CSF, GM, TISSUE_NAMES, WM, freesurfer_to_tissue
from hfm.radiome.synthetic.synthseg import SYNTHSEG_OVERRIDES, Priors, label_map_paths
from hfm.shared.eval.stats import paired_bootstrap
from hfm.shared.sample_data import require_data

VENTRICLES = (4, 5, 14, 15, 43, 44)
DEEP_GREY = (10, 11, 12, 13, 17, 18, 26, 49, 50, 51, 52, 53, 54, 58)
SULCAL_FLUID = 24  # SynthSeg's extra-ventricular CSF: background in the reference
LAB2IM, LAB2IM_MAP = 21, "radiome/lab2im/tutorials/data_example/brain_label_map.nii.gz"
# separates the dev cases' random streams from every training stream (those are seeded by the run's seed alone)
DEV_STREAM = 15_000


@dataclass(frozen=True)
class DevContrast:
    """How a held-out map becomes a T1-like 1 mm image (0-255 scale before the normalisation)."""

    # class means drawn around the priors' T1 centres with this fraction of the priors' spread: the full spread
    # (training's, meant to be contrast-agnostic) often brings WM within 20 % of GM, unlike a T1 scan
    mean_spread: float = 0.5
    blur_vox: tuple[float, float] = (0.5, 1.0)  # Gaussian sigma: partial volume at 1 mm
    bias: float = 0.03  # standard deviation of the log bias field: what remains after a bias correction
    noise: tuple[float, float] = (1.0, 4.0)  # standard deviation of the added Gaussian noise


@dataclass
class DevCase:
    name: str
    image: np.ndarray  # float32, 0 outside the mask
    mask: np.ndarray
    reference: np.ndarray  # uint8 tissue classes (0 background, CSF, GM, WM)
    classes: tuple[int, ...]  # tissue classes scored
    labels: np.ndarray | None = None  # FreeSurfer labels (regions for diagnostics), None for MNI152


def _crop(mask: np.ndarray, margin: int = 4) -> tuple[slice, ...]:
    where = np.argwhere(mask)
    low, high = np.maximum(where.min(0) - margin, 0), np.minimum(where.max(0) + 1 + margin, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))


def synthetic_case(number: int, seed: int = 0, contrast: DevContrast = DevContrast()) -> DevCase:
    """Label map `number` as a T1-like 1 mm image, reproducible from (number, seed).

    `number`: 1-20, SynthSeg's training maps; `LAB2IM` (21), lab2im's example brain label map, a subject outside
    SynthSeg's 20 that no run, dev or benchmark, ever trains on (hemispheres share labels there; same tissues).
    """
    if number == LAB2IM:
        return _labels_case(require_data(LAB2IM_MAP), "lab2im", number, seed, contrast)
    return _labels_case(label_map_paths()[number - 1], f"map{number:02d}", number, seed, contrast)


def _labels_case(path: Path, name: str, number: int, seed: int, contrast: DevContrast) -> DevCase:
    from scipy.ndimage import gaussian_filter, zoom

    labels = np.asarray(nib.as_closest_canonical(nib.load(str(path))).dataobj).astype(np.int32)
    reference = freesurfer_to_tissue(labels, str(path))
    for label, value in SYNTHSEG_OVERRIDES.items():
        reference[labels == label] = value
    # skull-stripped as FreeSurfer's brain masks are: the brain and the fluid around it
    mask = (reference > 0) | (labels == SULCAL_FLUID)
    box = _crop(mask)
    labels, reference, mask = labels[box], reference[box], mask[box]
    rng = np.random.default_rng([DEV_STREAM, number, seed])
    priors = Priors.load()
    spread = Priors(priors.labels, priors.classes, priors.means * [[1], [contrast.mean_spread]], priors.stds)
    means, stds = spread.draw(rng)  # the T1 priors, means closer to their centres than training draws them
    classes = priors.class_lookup(int(labels.max()))[labels]
    image = means[classes] + stds[classes] * rng.standard_normal(labels.shape)
    image = gaussian_filter(np.clip(image, 0, None), rng.uniform(*contrast.blur_vox))
    field = zoom(rng.standard_normal((4, 4, 4)) * contrast.bias, np.asarray(labels.shape) / 4, order=3)
    image = image * np.exp(field[tuple(slice(0, n) for n in labels.shape)])
    image = image + rng.normal(0.0, rng.uniform(*contrast.noise), labels.shape)
    image = np.where(mask, np.clip(image, 0, None), 0).astype(np.float32)
    return DevCase(name, image, mask, reference.astype(np.uint8), (CSF, GM, WM), labels.astype(np.int16))


def mni152_case() -> DevCase | None:
    """nilearn's MNI152 2009 T1 with its GM/WM labels (GM/WM scored); None where nilearn's template is absent."""
    from hfm.radiome.readers.brain import mni152_tissue

    try:
        t1, label = mni152_tissue()
    except FileNotFoundError:
        return None
    mask = t1.array > 0
    reference = np.array([0, GM, WM], np.uint8)[label]
    box = _crop(mask)
    image = np.where(mask, t1.array, 0).astype(np.float32)
    return DevCase("mni152", image[box], mask[box], reference[box], (GM, WM))


@dataclass
class DevRow:
    method: str
    seed: int  # -1 for a method that is not trained (k-means + rule)
    case: str
    dice: dict[str, float]
    mean: float  # mean Dice over the case's scored classes
    regions: dict[str, float] = field(default_factory=dict)  # fraction right per region (synthetic cases)
    train_s: float = 0.0


def score(prediction: np.ndarray, case: DevCase, method: str, seed: int, train_s: float = 0.0) -> DevRow:
    """Dice per class inside the mask, the mean over the case's classes, and per-region hit rates."""
    prediction = np.where(case.mask, prediction, 0)
    dice = {}
    for name, c in zip(TISSUE_NAMES, (CSF, GM, WM), strict=True):
        p, r = prediction == c, case.reference == c
        dice[name] = float(2 * (p & r).sum() / max(int(p.sum() + r.sum()), 1))
    mean = float(np.mean([dice[n] for n, c in zip(TISSUE_NAMES, (CSF, GM, WM), strict=True) if c in case.classes]))
    regions = {}
    if case.labels is not None:
        for region, where, right in (
            ("ventricles", np.isin(case.labels, VENTRICLES), CSF),
            ("sulcal fluid", (case.labels == SULCAL_FLUID) & case.mask, 0),
            ("deep GM", np.isin(case.labels, DEEP_GREY), GM),
        ):
            regions[region] = float((prediction[where] == right).mean()) if where.any() else float("nan")
    return DevRow(method, seed, case.name, dice, mean, regions, train_s)


@dataclass
class DevConfig:
    # held out: dev networks train on maps 1..train_maps; LAB2IM is a subject outside SynthSeg's 20
    maps: tuple[int, ...] = (17, 18, 19, 20, LAB2IM)
    train_maps: int = 16  # training uses maps 1..train_maps (must not reach the held-out ones)
    seeds: tuple[int, ...] = (0, 1, 2)
    case_seed: int = 0  # the dev images' draw (not a training seed)
    mni152: bool = True
    baseline: bool = True
    contrast: DevContrast = field(default_factory=DevContrast)
    steps: int | None = None  # None: each path's own (the benchmark's); a test sets a few
    pretrain_steps: int | None = None


def dev_cases(dev: DevConfig) -> list[DevCase]:
    if min(dev.maps) <= dev.train_maps:
        raise ValueError(f"dev maps {dev.maps} overlap the training maps 1-{dev.train_maps}")
    cases = [synthetic_case(n, dev.case_seed, dev.contrast) for n in dev.maps]
    mni = mni152_case() if dev.mni152 else None
    return cases + ([mni] if mni is not None else [])


def kmeans_deep(case: DevCase) -> np.ndarray:
    """The benchmark's strongest baseline: k-means (3 clusters, darkest CSF) + the deep-CSF rule."""
    return keep_deep_csf(cluster_intensities(case.image, case.mask, (CSF, GM, WM), "kmeans", 0), case.mask)


def _path_config(name: str, dev: DevConfig) -> TissueConfig:
    overrides = {"steps": dev.steps, "pretrain_steps": dev.pretrain_steps}
    return tissue_path(name, **{k: v for k, v in overrides.items() if v is not None})


def run_dev(
    work: str | Path,
    paths: Sequence[str],
    dev: DevConfig | None = None,
    log: Any = print,
    cases: Sequence[DevCase] | None = None,
) -> list[DevRow]:
    """Train each path's hfm on maps 1..train_maps per seed, score every dev case; rows to work/dev_rows.jsonl.

    `cases`: the dev cases to score (default: `dev_cases(dev)`).
    """
    dev = dev or DevConfig()
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    cases = dev_cases(dev) if cases is None else list(cases)
    rows: list[DevRow] = []

    def keep(row: DevRow) -> None:
        rows.append(row)
        with (work / "dev_rows.jsonl").open("a") as handle:
            handle.write(json.dumps(asdict(row)) + "\n")

    if dev.baseline:
        for case in cases:
            keep(score(kmeans_deep(case), case, KMEANS_DEEP, -1))
    artifacts = {}
    for name in paths:
        config = _path_config(name, dev)
        artifacts[name], note = pretrain_encoder(work / f"mae-{name}", config, dev.train_maps)
        log(f"radiome dev: {name} {note}")
    for seed in dev.seeds:
        for name in paths:
            config = _path_config(name, dev)
            options = learned_options(config, HFM, seed, dev.train_maps, artifacts[name])
            start = time.perf_counter()
            model, _ = train_segmenter(options, work / f"hfm-{name}-seed{seed}", config)
            train_s = time.perf_counter() - start
            how = segmenting(config)
            other = "network" if config.fluid == "depth" else "depth"
            for case in cases:
                posteriors = subject_posteriors(
                    model,
                    case.image,
                    case.mask,
                    how["patch"],
                    factor=how["factor"],
                    ventricle_head=how["ventricle_head"],
                )
                keep(score(posteriors.fused(config.fluid), case, f"hfm {name}", seed, train_s))
                if other == "depth" or config.pool > 1:  # the 2 mm networks' own split lost to depth (third pass)
                    keep(score(posteriors.fused(other), case, f"hfm {name}, fluid={other}", seed, train_s))
                alone = posteriors.labels(posteriors.probabilities.argmax(0).astype(np.uint8))
                keep(score(alone, case, f"hfm {name}, network alone", seed, train_s))
            log(f"radiome dev: {name} seed {seed} ({train_s:.0f} s): " + summary_line(rows, f"hfm {name}", seed))
    return rows


def train_segmenter(
    options: dict[str, Any], folder: Path, config: TissueConfig
) -> tuple[torch.nn.Module, dict[str, Any]]:
    from hfm.radiome.training import train

    return train("radiome-synthseg", options, folder, config.steps, config.batch_size, config.lr, options["seed"])


def summary_line(rows: Sequence[DevRow], method: str, seed: int) -> str:
    return ", ".join(f"{r.case} {r.mean:.3f}" for r in rows if r.method == method and r.seed == seed)


def load_rows(work: str | Path) -> list[DevRow]:
    """Rows of dev_rows.jsonl; a row repeated (two processes computing the same baseline) counts once."""
    seen: dict[tuple[str, int, str], DevRow] = {}
    for line in (Path(work) / "dev_rows.jsonl").read_text().splitlines():
        if line.strip():
            row = DevRow(**json.loads(line))
            seen.setdefault((row.method, row.seed, row.case), row)
    return list(seen.values())


def _values(rows: Sequence[DevRow], method: str, key: str) -> dict[tuple[int, str], float]:
    out = {}
    for r in rows:
        if r.method == method and r.case != "mni152":
            out[(r.seed, r.case)] = r.mean if key == "mean" else r.dice[key]
    return out


def dev_interval(
    rows: Sequence[DevRow], method: str, baseline: str, key: str = "mean", seed: int = 0
) -> tuple[float, float, float, float, float, int]:
    """(method, baseline, difference, low, high, n) over the synthetic cases' (seed, map) units both share.

    `key`: "mean" (mean Dice over CSF/GM/WM) or a class name. An untrained baseline (seed -1) pairs with every seed.
    """
    a, b = _values(rows, method, key), _values(rows, baseline, key)
    units = sorted(u for u in a if u in b or (-1, u[1]) in b)
    if not units:
        raise ValueError(f"dev_interval: no units shared by {method!r} and {baseline!r}")
    x = np.array([a[u] for u in units])
    y = np.array([b[u] if u in b else b[(-1, u[1])] for u in units])
    diff, low, high = paired_bootstrap(x, y, seed=seed)
    return float(x.mean()), float(y.mean()), diff, low, high, len(units)


def report(rows: Sequence[DevRow]) -> str:
    """Markdown: every method's mean per case class and seed count, then the paired comparisons that exist."""
    methods = list(dict.fromkeys(r.method for r in rows))
    lines = [
        "| method | seeds | maps: CSF | GM | WM | mean | ventricles | sulcal fluid | deep GM | MNI152 GM/WM |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in methods:
        syn = [r for r in rows if r.method == m and r.case != "mni152"]
        mni = [r.mean for r in rows if r.method == m and r.case == "mni152"]
        if not syn:
            continue
        cells = [np.mean([r.dice[n] for r in syn]) for n in TISSUE_NAMES] + [np.mean([r.mean for r in syn])]
        for region in ("ventricles", "sulcal fluid", "deep GM"):
            hits = [r.regions[region] for r in syn if not np.isnan(r.regions.get(region, np.nan))]
            cells.append(float(np.mean(hits)) if hits else float("nan"))
        seeds = len({r.seed for r in syn})
        tail = f"{np.mean(mni):.3f}" if mni else "-"
        lines.append(f"| {m} | {seeds} | " + " | ".join(f"{c:.3f}" for c in cells) + f" | {tail} |")
    lines += ["", "| comparison (mean CSF/GM/WM Dice, held-out maps) | a | b | a - b | 95% interval | n |"]
    lines.append("|---|---:|---:|---:|---|---:|")
    names = [m for m in methods if m.startswith("hfm ") and "," not in m]
    pairs = [(m, KMEANS_DEEP) for m in names] + [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    pairs += [(m, m.split(",")[0]) for m in methods if ", fluid=" in m]
    for a, b in pairs:
        for key in ("mean", "CSF"):
            try:
                va, vb, d, low, high, n = dev_interval(rows, a, b, key)
            except ValueError:
                continue
            lines.append(f"| {a} vs {b} ({key}) | {va:.4f} | {vb:.4f} | {d:+.4f} | [{low:+.4f}, {high:+.4f}] | {n} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--paths", default=",".join(TISSUE_PATHS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-mni152", action="store_true")
    parser.add_argument("--report", action="store_true", help="only print the comparisons of what --out holds")
    args = parser.parse_args(argv)
    if not args.report:
        seeds = tuple(int(s) for s in args.seeds.split(","))
        dev = DevConfig(seeds=seeds, baseline=not args.no_baseline, mni152=not args.no_mni152)
        run_dev(args.out, args.paths.split(","), dev)
    print(report(load_rows(args.out)))


if __name__ == "__main__":
    main()
