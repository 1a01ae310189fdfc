"""Benchmarks for `tools/bench.py` (declared in `plugin.py`): real data, baselines in the same run.

Figures are lat-weighted RMSE in K (lower is better; ratio = hfm / baseline) and training windows/s (higher is
better; ratio = hfm / xarray). Plots and run folders go to `$HFM_BENCH_OUT/climate` (default
`benchmarks/climate`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hfm.climate.experiments.crossval import ERA5, HADISST, CVBudget, Protocol, run_cv
from hfm.climate.experiments.end_to_end import ERA5_OWNER, HADISST_OWNER, Budget, era5_experiment, speed_experiment
from hfm.climate.experiments.transfer import TRAIN_MONTHS, VALID_MONTHS
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import effective_sample_size, moving_block_bootstrap
from hfm.shared.eval.throughput import throughput_figure
from hfm.shared.train.benchmark import bench_folder

if TYPE_CHECKING:
    from hfm.climate.experiments.interp_cv import InterpCVResult


def _out(name: str) -> Path:
    """A fresh folder for one experiment: a run folder left from an earlier benchmark would be resumed by the trainer
    (it continues from the newest checkpoint), and the figures would then come from that earlier run's model."""
    path = bench_folder("climate") / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def cv_figures(result: dict[str, Any], protocol: Protocol, task: str, labels: dict[int, str], command: str,
               block_label: str) -> list[Figure]:  # fmt: skip
    """One Figure per lead: hfm against the baseline with the lowest pooled RMSE over all folds (the others in
    `others`), the interval a moving-block bootstrap of the paired per-forecast RMSE differences."""
    figures = []
    for lead, scores in result["leads"].items():
        means = {name: float(np.mean(values)) for name, values in scores.losses.items()}
        baselines = {name: value for name, value in means.items() if name != "hfm"}
        strongest = min(baselines, key=baselines.get)
        hfm, base = np.asarray(scores.losses["hfm"]), np.asarray(scores.losses[strongest])
        segments = np.asarray(scores.fold)
        _, low, high = moving_block_bootstrap(hfm, base, block=protocol.block, segments=segments)
        chosen = [s["chosen_step"] for s in result["selection"] if s["base_lead"] == protocol.leads[lead]]
        against = "; ".join(
            "vs {}: {:+.4f} [{:+.4f}, {:+.4f}]".format(
                name, *moving_block_bootstrap(hfm, np.asarray(losses), block=protocol.block, segments=segments)
            )
            for name, losses in scores.losses.items()
            if name not in ("hfm", strongest)
        )
        figures.append(
            Figure(
                name=f"{task} {labels[lead]} RMSE, hfm vs {strongest} ({protocol.folds}-fold blocked CV)",
                task=task,
                metric=f"RMSE {labels[lead]}",
                higher_is_better=False,
                value=means["hfm"],
                baseline=baselines[strongest],
                baseline_name=strongest,
                n_test=int(hfm.size),
                test_unit="forecasts",
                interval=(low, high),
                interval_method=f"moving-block bootstrap of paired per-forecast RMSE differences, blocks of "
                f"{block_label}, circular within folds, 2000 resamples",
                unit="K",
                command=command,
                n_effective=effective_sample_size(hfm - base, segments),
                others={k: v for k, v in baselines.items() if k != strongest},
                notes=f"{protocol.folds} folds of {protocol.test_steps} test steps, gaps {protocol.gap_steps}, "
                f"validation {protocol.valid_steps}; checkpoint steps chosen per fold {chosen}; hfm - other "
                f"baselines, same interval: {against}",
            )
        )
    return figures


def hadisst_cv() -> list[Figure]:
    """HadISST SST at 1 and 3 months (3 by rollout), 8-fold blocked CV, hfm vs the strongest of persistence,
    climatology, damped anomaly persistence and the linear inverse model."""
    from hfm.climate.curate import curate_fields
    from hfm.climate.experiments.end_to_end import hadisst_path

    out = _out("hadisst-cv")
    curate_fields([hadisst_path()], out / "data", HADISST_OWNER, train_end="2014-12-31", show_progress=False)
    # 100 steps, not 150: the folds chose steps 25-125 and their validation RMSE moved by under 0.001 K after 25
    result = run_cv(out / "data", out / "cv", HADISST, CVBudget(steps=100))
    command = "python tools/bench.py --only climate-hadisst"
    figures = cv_figures(result, HADISST, "climate/HadISST SST forecast", {1: "1 month", 3: "3 months"}, command,
                         "6 months")  # fmt: skip
    return figures + _ostia_figures(result, out, command)


def _ostia_figures(result: dict[str, Any], out: Path, command: str) -> list[Figure]:
    """The OSTIA transfer (see `transfer.py`): the forecaster of the HadISST fold that never saw OSTIA's test months,
    zero-shot and fine-tuned, each against the strongest baseline fitted on OSTIA's training months."""
    import xarray as xr

    from hfm.climate.data import FieldData
    from hfm.climate.experiments.transfer import ostia_path, ostia_transfer, source_fold

    test_times = xr.open_dataset(ostia_path())["time"].values[TRAIN_MONTHS + VALID_MONTHS :]
    k = source_fold(result["fold_masks"], result["times"], test_times)
    source = next(s for s in result["selection"] if s["fold"] == k and s["base_lead"] == 1)
    like = FieldData.load(out / "data")
    budget = CVBudget(steps=60, eval_every=10)
    transfer = ostia_transfer(Path(source["model"]), source["options"], like, out / "ostia", HADISST, budget)
    baselines = tuple(n for n in transfer["losses"] if not n.startswith("hfm"))
    notes = (f"HadISST fold {k}'s forecaster; OSTIA months 1-24 train, 25-30 validation, test {transfer['test']}; "
             f"fine-tune {budget.steps} steps, chosen step {transfer['selection']['chosen_step']}")  # fmt: skip
    figures = []
    for name, label in (("hfm_zero_shot", "zero-shot"), ("hfm_fine_tuned", "after a short fine-tune")):
        losses = {"hfm": transfer["losses"][name], **{b: transfer["losses"][b] for b in baselines}}
        figures.append(
            _paired_figure(f"climate OSTIA SST 1 month RMSE, HadISST forecaster {label}", "climate/OSTIA SST transfer",
                           f"RMSE 1 month ({label})", losses, baselines, 6, "forecasts", command, notes, "6 months")
        )  # fmt: skip
    return figures


def era5_cv() -> list[Figure]:
    """ERA5 UK 2 m temperature at 1 h and 6 h, 4-fold blocked CV, hfm vs the strongest of persistence,
    climatology, damped anomaly persistence and the neighbourhood ridge autoregression."""
    from hfm.climate.curate import curate_fields
    from hfm.climate.experiments.end_to_end import era5_path

    out = _out("era5-cv")
    curate_fields([era5_path()], out / "data", ERA5_OWNER, train_end="2019-03-24", show_progress=False)
    result = run_cv(out / "data", out / "cv", ERA5, CVBudget())
    command = "python tools/bench.py --only climate-era5"
    return cv_figures(result, ERA5, "climate/ERA5 t2m forecast", {1: "1 h", 6: "6 h"}, command, "2 days")


def _paired_figure(name: str, task: str, metric: str, losses: dict[str, Any], baselines: tuple[str, ...],
                   block: int, unit_name: str, command: str, notes: str, block_label: str = "2 days",
                   segments: np.ndarray | None = None, circular: str = "circular") -> Figure:  # fmt: skip
    """hfm against the strongest of `baselines` on the same test units, moving-block bootstrap interval (within
    `segments`, e.g. cross-validation folds, when given)."""
    means = {b: float(np.mean(losses[b])) for b in baselines}
    strongest = min(means, key=means.get)
    hfm, base = np.asarray(losses["hfm"]), np.asarray(losses[strongest])
    _, low, high = moving_block_bootstrap(hfm, base, block=block, segments=segments)
    return Figure(
        name=f"{name}, hfm vs {strongest}",
        task=task,
        metric=metric,
        higher_is_better=False,
        value=float(hfm.mean()),
        baseline=means[strongest],
        baseline_name=strongest,
        n_test=int(hfm.size),
        test_unit=unit_name,
        interval=(low, high),
        interval_method=f"moving-block bootstrap of paired per-{unit_name[:-1]} RMSE differences, blocks of {block} "
        f"({block_label}, {circular}), 2000 resamples",
        unit="K",
        command=command,
        n_effective=effective_sample_size(hfm - base, segments),
        others={b: v for b, v in means.items() if b != strongest},
        notes=notes,
    )


# The fields benchmark's grid: 24 x 32 of the 33 x 49 UK points (51-56.75 N, 8-0.25 W; half the tokens per step),
# the benchmark budget on an idle 2-CPU machine (docs/climate.md, run times); baselines see the same crop.
FIELDS_CROP = {"lat": slice(4, 28), "lon": slice(8, 40)}


def era5_fields() -> list[Figure]:
    """ERA5 UK 2 m temperature on the `FIELDS_CROP` grid: 4x downscaling (days 1-24 train / 25-31 test) against
    bilinear, bicubic and bicubic with a trained per-point linear correction; temporal interpolation of 6 h gaps by
    4-fold blocked cross-validation over the month (`interp_cv`) against linear interpolation of the fields and of
    the anomalies, cubic Hermite of the anomalies and the fitted linear interpolators."""
    from hfm.climate.experiments.interp_cv import CONTEXT, CORRECTION, WINDOW, run_interpolation_cv
    from hfm.climate.experiments.pretraining_corpus import pretrain_corpus

    out, budget = _out("era5-fields"), Budget()
    arch = {"patch_lat": 4, "patch_lon": 4, "width": budget.width, "depth": budget.depth, "heads": budget.heads}
    corpus = pretrain_corpus(out / "corpus", budget.pretrain_steps, arch, seed=budget.seed)
    result = era5_experiment(out, budget, forecasts=False, crop=FIELDS_CROP, corpus_model=Path(corpus["model"]),
                             interpolation=False)  # fmt: skip
    cv_budget = CVBudget(steps=budget.interp_cv_steps, eval_every=budget.interp_cv_every, lr=1e-3,
                         weight_decay=0.01, batch_size=budget.batch_size, width=budget.width, depth=budget.depth,
                         heads=budget.heads, seed=budget.seed)  # fmt: skip
    interp_arch = arch | {"patch_lat": budget.interp_patch, "patch_lon": budget.interp_patch}
    interp = run_interpolation_cv(out / "data", out / "interpolate-cv", cv_budget, interp_arch, WINDOW, CONTEXT,
                                  ERA5, CORRECTION, budget.interp_cv_members)  # fmt: skip
    command = "python tools/bench.py --only climate-era5-fields"
    grid = "grid 24 x 32 (51-56.75 N, 8-0.25 W)"
    split = f"single split: days 1-24 train, 25-31 test; {grid}"
    down = result["downscaling"]
    corpus_note = (f"{len(corpus['datasets'])} curated sources (no ERA5), {corpus['fields']} fields, "
                   f"{corpus['tiles']} tiles of 16 x 16, {budget.pretrain_steps} MAE steps of 64 tiles; both "
                   f"downscalers {budget.finetune_steps} steps; the benchmark's downscaler (ERA5 days 1-24 MAE init) "
                   f"{down['hfm']:.4f}, bicubic_linear {down['bicubic_linear']:.4f}")  # fmt: skip
    transfer = {"hfm": result["downscaling_corpus"]["per_step"]["hfm"],
                "scratch": result["downscaling_scratch"]["per_step"]["hfm"]}  # fmt: skip
    return [
        _paired_figure("climate ERA5 t2m 4x downscaling RMSE", "climate/ERA5 t2m downscaling", "RMSE",
                       down["per_step"], ("bilinear", "bicubic", "bicubic_linear"), 48, "steps", command, split),
        _paired_figure(f"climate ERA5 t2m temporal interpolation (6 h gaps) RMSE ({ERA5.folds}-fold blocked CV)",
                       "climate/ERA5 t2m interpolation", "RMSE", interp.losses, INTERP_BASELINES, ERA5.block,
                       "windows", command, f"{grid}; {_interpolation_note(interp, cv_budget)}",
                       segments=np.asarray(interp.fold), circular="circular within folds"),
        _paired_figure("climate ERA5 t2m 4x downscaling RMSE, corpus-pretrained trunk",
                       "climate/ERA5 t2m downscaling, corpus pretraining", "RMSE", transfer, ("scratch",), 48,
                       "steps", command, f"{split}; {corpus_note}"),
    ]  # fmt: skip


INTERP_BASELINES = ("linear", "linear_anomaly", "cubic_anomaly", "fitted_anomaly", "fitted_neighbourhood",
                    "fitted_pointwise")  # fmt: skip


def _interpolation_note(interp: InterpCVResult, budget: CVBudget, protocol: Protocol = ERA5) -> str:
    """The cross-validated interpolation's protocol, each fold's choices and hfm against every baseline."""
    from hfm.climate.experiments.interp_cv import CONTEXT, CORRECTION, RADII, WINDOW

    segments = np.asarray(interp.fold)
    versus = []
    for name in INTERP_BASELINES:
        diff, low, high = moving_block_bootstrap(np.asarray(interp.losses["hfm"]), np.asarray(interp.losses[name]),
                                                 block=protocol.block, segments=segments)  # fmt: skip
        versus.append(f"hfm - {name} {diff:+.4f} [{low:+.4f}, {high:+.4f}]")
    folds = "; ".join(
        f"fold {f['fold']} test {' .. '.join(t[:10] for t in f['test'].split(' .. '))} ({f['test_windows']} "
        f"windows): base {f['base']} radius {f['radius']}, steps {'/'.join(map(str, f['chosen_steps']))}, shrink "
        f"{f['shrink']:.2f}"
        for f in interp.folds
    )
    members = interp.folds[0]["members"] if interp.folds else 1
    return (
        f"{protocol.folds} test blocks of {protocol.test_steps // 24} days, {protocol.gap_steps // 24}-day gaps, a "
        f"{protocol.valid_steps // 24}-day validation block per fold; windows of {WINDOW} h "
        f"({CONTEXT} h seen beyond each end of the 6 h gap), every hidden hour a test hour; every method "
        f"refitted on each fold's training days; hfm: the mean correction of {members} networks (seeds; "
        f"{CORRECTION}; {budget.steps} steps each, checkpoints every {budget.eval_every} and step 0 compared on "
        f"validation per member, the mean then shrunk by a factor in [0, 1] fitted there) to the best linear "
        f"interpolator on validation: the least-squares interpolator of anomalies and their neighbourhood means, "
        f"radius {min(RADII)}-{max(RADII)}, with pooled weights (fitted_neighbourhood) or per-point weights shrunk "
        f"toward the pooled ones (fitted_pointwise); fitted_anomaly: each point's own hours, pooled; {folds}; "
        f"{'; '.join(versus)}"
    )


def loader_speed() -> list[Figure]:
    """Training windows/s from one zarr store: hfm's chunk-aware reader vs a plain xarray isel loop."""
    from hfm.climate.curate import curate_fields
    from hfm.climate.experiments.end_to_end import era5_path

    out = _out("speed")
    curate_fields([era5_path()], out / "data", ERA5_OWNER, train_end="2019-03-24", show_progress=False)
    return [
        throughput_figure(
            speed_experiment(out / "data"),
            name="climate training windows/s (13 h windows of ERA5 t2m), hfm vs xarray isel",
            task="climate/loader",
            item="windows",
            baseline_name="xarray isel",
            command="python tools/bench.py --only climate-speed",
            notes="300 random windows, same store, standardised",
        ),
        throughput_figure(
            stream_speed(out),
            name="climate training windows/s (13 h windows of ERA5 t2m), sharded stream vs hfm indexed",
            task="climate/loader",
            item="windows",
            baseline_name="hfm indexed (StoreWindows, random order)",
            command="python tools/bench.py --only climate-speed",
            notes="the same month curated from one file a day in shards of 8 files; every training window within a "
            "shard, streamed as pretraining reads them (issue 18), against as many random training windows of the "
            "one store",
        ),
    ]


def stream_speed(out: Path, window: int = 13, repeats: int = 5) -> Any:
    """Windows/s of the sharded stream against the indexed reader, for the same number of windows."""
    from hfm.climate.curate import curate_fields
    from hfm.climate.data import FieldData, Normaliser, StoreWindows, climate_stream, window_starts
    from hfm.climate.experiments.end_to_end import era5_path
    from hfm.climate.readers import open_fields
    from hfm.shared.eval.throughput import paired_rates
    from hfm.shared.shard_curation import Sharding

    fields, days = open_fields(era5_path(), None), []
    for day in sorted({str(t)[:10] for t in fields["time"].values}):
        days.append(out / "days" / f"{day}.nc")
        days[-1].parent.mkdir(parents=True, exist_ok=True)
        fields.sel(time=day).to_netcdf(days[-1])
    sharded = out / "sharded"
    options = {"train_end": "2019-03-24", "show_progress": False, "sharding": Sharding(8, workers=1)}
    curate_fields(days, sharded, ERA5_OWNER, **options)
    stream, _ = climate_stream(sharded, window)
    data = FieldData.load(out / "data")
    starts = np.random.default_rng(0).permutation(window_starts(data, window, "train"))[: len(stream)]
    normaliser = Normaliser(data)

    def streamed() -> int:
        return sum(1 for _ in stream)

    def indexed() -> int:
        fresh = StoreWindows(out / "data", starts, window, normaliser)
        return sum(1 for i in range(len(fresh)) if fresh[i] is not None)

    return paired_rates(streamed, indexed, repeats=repeats)
