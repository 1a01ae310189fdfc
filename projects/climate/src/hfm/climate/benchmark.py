"""Benchmarks for `tools/bench.py` (entry-point group `hfm.benchmarks`): real data, baselines in the same run.

Figures are lat-weighted RMSE in K (lower is better; ratio = hfm / baseline) and training windows/s (higher is
better; ratio = hfm / xarray). Plots and run folders go to `$HFM_BENCH_OUT/climate` (default
`benchmarks/climate`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from hfm.climate.crossval import ERA5, HADISST, CVBudget, Protocol, run_cv
from hfm.climate.experiments import BASELINES, Budget, era5_experiment, speed_experiment, sst_experiment
from hfm.climate.intervals import effective_n, moving_block_bootstrap_difference
from hfm.shared.eval.figures import Figure


def _out(name: str) -> Path:
    """A fresh folder for one experiment: a run folder left from an earlier benchmark would be resumed by the trainer
    (it continues from the newest checkpoint), and the figures would then come from that earlier run's model."""
    path = Path(os.environ.get("HFM_BENCH_OUT", "benchmarks")) / "climate" / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _figure(name: str, value: float, baseline: float, unit: str, command: str, notes: str = "") -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "baseline": baseline,
        "ratio": value / baseline,
        "unit": unit,
        "command": command,
        "notes": notes,
    }


def _forecast_figures(prefix: str, scores: dict, leads: dict[int, str], command: str) -> list[dict[str, Any]]:
    figures = []
    for lead, label in leads.items():
        table = scores[lead]
        for baseline in BASELINES:
            figures.append(
                _figure(
                    f"{prefix} {label} RMSE, hfm vs {baseline}",
                    table["hfm"]["rmse"][0],
                    table[baseline]["rmse"][0],
                    "K",
                    command,
                    f"ACC hfm {table['hfm']['acc'][0]:.3f}; {table['_pairs']} test pairs",
                )
            )
    return figures


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
        _, low, high = moving_block_bootstrap_difference(hfm, base, protocol.block, segments)
        chosen = [s["chosen_step"] for s in result["selection"] if s["base_lead"] == protocol.leads[lead]]
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
                f"{block_label} within folds, 2000 resamples",
                unit="K",
                command=command,
                n_effective=effective_n(hfm - base, segments),
                others={k: v for k, v in baselines.items() if k != strongest},
                notes=f"{protocol.folds} folds of {protocol.test_steps} test steps, gaps {protocol.gap_steps}, "
                f"validation {protocol.valid_steps}; checkpoint steps chosen per fold {chosen}",
            )
        )
    return figures


def hadisst_cv() -> list[Figure]:
    """HadISST SST at 1 and 3 months (3 by rollout), 10-fold blocked CV, hfm vs the strongest of persistence,
    climatology, damped anomaly persistence and the linear inverse model."""
    from hfm.climate.curation import curate_fields
    from hfm.climate.experiments import hadisst_path

    out = _out("hadisst-cv")
    curate_fields([hadisst_path()], out / "data", train_end="2014-12-31", show_progress=False)
    result = run_cv(out / "data", out / "cv", HADISST, CVBudget())
    command = "python tools/bench.py --only climate-hadisst-cv"
    return cv_figures(result, HADISST, "climate/HadISST SST forecast", {1: "1 month", 3: "3 months"}, command,
                      "6 months")  # fmt: skip


def era5_cv() -> list[Figure]:
    """ERA5 UK 2 m temperature at 1 h and 6 h, 4-fold blocked CV, hfm vs the strongest of persistence,
    climatology, damped anomaly persistence and the neighbourhood ridge autoregression."""
    from hfm.climate.curation import curate_fields
    from hfm.climate.experiments import era5_path

    out = _out("era5-cv")
    curate_fields([era5_path()], out / "data", train_end="2019-03-24", show_progress=False)
    result = run_cv(out / "data", out / "cv", ERA5, CVBudget())
    command = "python tools/bench.py --only climate-era5-cv"
    return cv_figures(result, ERA5, "climate/ERA5 t2m forecast", {1: "1 h", 6: "6 h"}, command, "2 days")


def hadisst_forecast() -> list[dict[str, Any]]:
    """HadISST SST at 1 and 3 months (3 by rollout) against the three baselines."""
    result = sst_experiment(_out("hadisst"), Budget())
    return _forecast_figures(
        "climate HadISST SST",
        result["scores"],
        {1: "1 month", 3: "3 months (rollout)"},
        "python tools/bench.py --only climate-hadisst",
    )


def era5_tasks() -> list[dict[str, Any]]:
    """ERA5 UK 2 m temperature: forecasts at 1 h and 6 h, 4x downscaling, 6-hourly temporal interpolation."""
    result = era5_experiment(_out("era5"), Budget())
    command = "python tools/bench.py --only climate-era5"
    figures = _forecast_figures("climate ERA5 t2m UK", result["scores"], {1: "1 h", 6: "6 h"}, command)
    down = result["downscaling"]
    for baseline in ("bilinear", "bicubic"):
        figures.append(
            _figure(
                f"climate ERA5 t2m 4x downscaling RMSE, hfm vs {baseline}", down["hfm"], down[baseline], "K", command
            )
        )
    interp = result["interpolation"]
    figures.append(
        _figure(
            "climate ERA5 t2m temporal interpolation (6 h gaps) RMSE, hfm vs linear",
            interp["hfm"],
            interp["linear"],
            "K",
            command,
            f"{interp['windows']} test windows",
        )
    )
    return figures


def loader_speed() -> list[dict[str, Any]]:
    """Training windows/s from one zarr store: hfm's chunk-aware reader vs a plain xarray isel loop."""
    from hfm.climate.curation import curate_fields
    from hfm.climate.experiments import era5_path

    out = _out("speed")
    curate_fields([era5_path()], out / "data", train_end="2019-03-24", show_progress=False)
    speed = speed_experiment(out / "data")
    return [
        _figure(
            "climate training windows/s (13 h windows of ERA5 t2m), hfm vs xarray isel",
            speed["hfm_windows_per_s"],
            speed["xarray_windows_per_s"],
            "windows/s",
            "python tools/bench.py --only climate-speed",
            f"{speed['windows']} random windows, same store",
        )
    ]
