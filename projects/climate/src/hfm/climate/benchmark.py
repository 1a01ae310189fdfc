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

from hfm.climate.experiments import BASELINES, Budget, era5_experiment, speed_experiment, sst_experiment


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
