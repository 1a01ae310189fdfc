"""`hfm climate curate | stats | pretrain | finetune | forecast | evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer(
    help="Gridded fields: curate into CF zarr, pretrain, fine-tune, forecast, evaluate.", no_args_is_help=True
)

_ARCH_HELP = "Patch size in grid points along latitude and longitude."


def _arch(patch_lat: int, patch_lon: int, width: int, depth: int, heads: int) -> dict:
    return {"patch_lat": patch_lat, "patch_lon": patch_lon, "width": width, "depth": depth, "heads": heads}


@app.command()
def curate(
    inputs: list[Path] = typer.Argument(..., help="netCDF, GRIB or zarr files (or folders of them)."),
    output: Path = typer.Option(..., "--output", "-o", help="Dataset folder to write (empty or an earlier output)."),
    variable: list[str] = typer.Option(None, "--variable", "-v", help="Variable to keep; repeat. Default: all."),
    train_start: str = typer.Option(None, help="First day of the training period, YYYY-MM-DD."),
    train_end: str = typer.Option(None, help="Last day (inclusive) of the training period, YYYY-MM-DD."),
    max_nan_fraction: float = typer.Option(0.5, help="Quarantine a file with more NaN than this fraction."),
    name: str = typer.Option("climate-fields", help="Dataset name for the card."),
    license: str = typer.Option("CC-BY-4.0", help="SPDX licence of the data."),
    creator: list[str] = typer.Option(["unknown"], help="Creator of the data; repeat for several."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Harmonise files into one CF zarr (time, variable, level if any, lat, lon); quarantine what cannot be fixed."""
    from hfm.climate.curation import curate_fields
    from hfm.climate.readers import GRIB_SUFFIXES, NETCDF_SUFFIXES
    from hfm.shared.safety.inputs import list_inputs

    files, rejected = [], []
    for item in inputs:
        if item.is_dir() and item.suffix != ".zarr":
            # Every file of a folder is an input: other formats and symlinks leading outside are quarantined.
            for entry in list_inputs(item, NETCDF_SUFFIXES | GRIB_SUFFIXES):
                (files if entry.ok else rejected).append(entry.path if entry.ok else entry)
            files += [p for p in sorted(item.iterdir()) if p.suffix == ".zarr" and p.is_dir() and not p.is_symlink()]
        else:
            files.append(item)
    summary, _ = curate_fields(
        files,
        output,
        variables=variable or None,
        train_start=train_start,
        train_end=train_end,
        max_nan_fraction=max_nan_fraction,
        name=name,
        license=license,
        creators=creator,
        show_progress=not quiet,
        rejected=rejected,
    )
    typer.echo(summary.line())
    typer.echo(f"written: {output / 'data.zarr'}; card: {output / 'card.json'}")


@app.command()
def stats(dataset: Path = typer.Argument(..., help="Curated dataset folder.")) -> None:
    """Per-variable statistics of the training period, the time axis and the grid."""
    from hfm.climate.store import open_store

    ds = open_store(dataset)
    typer.echo(
        f"time: {ds.sizes['time']} steps, {str(ds['time'].values[0])[:19]} .. {str(ds['time'].values[-1])[:19]}"
        f", step {ds.attrs['time_step_hours']:g} h, calendar {ds.attrs['calendar']}"
    )
    typer.echo(
        f"training period: {ds.attrs['train_start'] or 'start'} .. {ds.attrs['train_end'] or 'end'} "
        f"({ds.attrs['train_steps']} steps)"
    )
    typer.echo(
        f"grid: {ds.sizes['lat']} lat x {ds.sizes['lon']} lon"
        + (f" x {ds.sizes['level']} levels" if "level" in ds.dims else "")
    )
    typer.echo("variable  units  mean  std  min  max  nan_fraction")
    for i, v in enumerate(ds["variable"].values):
        row = [float(ds[k].values[i].mean()) for k in ("mean", "std", "min", "max", "nan_fraction")]
        typer.echo(f"{v}  {ds['units'].values[i]}  " + "  ".join(f"{x:.4g}" for x in row))


@app.command()
def pretrain(
    dataset: Path = typer.Argument(..., help="Curated dataset folder."),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder; the model is exported to OUTPUT/model."),
    steps: int = typer.Option(200, help="Optimiser steps."),
    batch_size: int = typer.Option(16, help="Windows per step."),
    window: int = typer.Option(2, help="Time steps per window."),
    mode: str = typer.Option("random", help="random (masked tokens) or interpolation (hide inner steps)."),
    mask_ratio: float = typer.Option(0.75, help="Fraction of tokens hidden (random mode)."),
    patch_lat: int = typer.Option(4, help=_ARCH_HELP),
    patch_lon: int = typer.Option(4, help=_ARCH_HELP),
    width: int = typer.Option(64, help="Trunk width."),
    depth: int = typer.Option(2, help="Trunk depth."),
    heads: int = typer.Option(4, help="Attention heads."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Masked token pretraining (or temporal interpolation training) with the shared trainer."""
    from hfm.climate.pipeline import train_and_export

    options = {
        "dataset": str(dataset),
        "window": window,
        "mode": mode,
        "mask_ratio": mask_ratio,
        **_arch(patch_lat, patch_lon, width, depth, heads),
    }
    path = train_and_export("climate-mae", options, output, steps=steps, batch_size=batch_size, seed=seed)
    typer.echo(f"exported: {path}")


@app.command()
def finetune(
    dataset: Path = typer.Argument(..., help="Curated dataset folder."),
    output: Path = typer.Option(..., "--output", "-o", help="Run folder; the model is exported to OUTPUT/model."),
    head: str = typer.Option("forecast", help="forecast or downscale."),
    init: Path = typer.Option(None, help="Exported climate-mae model whose encoder initialises the head."),
    lead: int = typer.Option(1, help="Base lead in time steps (forecast)."),
    history: int = typer.Option(2, help="Input steps, `lead` apart (forecast)."),
    factor: int = typer.Option(4, help="Coarsening factor (downscale)."),
    steps: int = typer.Option(300, help="Optimiser steps."),
    batch_size: int = typer.Option(16, help="Samples per step."),
    patch_lat: int = typer.Option(4, help=_ARCH_HELP),
    patch_lon: int = typer.Option(4, help=_ARCH_HELP),
    width: int = typer.Option(64, help="Trunk width (must match --init)."),
    depth: int = typer.Option(2, help="Trunk depth (must match --init)."),
    heads: int = typer.Option(4, help="Attention heads (must match --init)."),
    seed: int = typer.Option(0, help="Random seed."),
) -> None:
    """Train a forecasting or downscaling head, optionally from a pretrained encoder."""
    from hfm.climate.pipeline import train_and_export
    from hfm.shared.errors import HFMError

    if head not in ("forecast", "downscale"):
        raise HFMError(f"--head: 'forecast' or 'downscale', got {head!r}")
    options = {"dataset": str(dataset), **_arch(patch_lat, patch_lon, width, depth, heads)}
    options |= {"lead": lead, "history": history} if head == "forecast" else {"factor": factor}
    if init:
        options["init"] = str(init)
    path = train_and_export(f"climate-{head}", options, output, steps=steps, batch_size=batch_size, seed=seed)
    typer.echo(f"exported: {path}")


@app.command()
def forecast(
    model: Path = typer.Argument(..., help="Exported climate-forecaster model folder."),
    dataset: Path = typer.Argument(..., help="Curated dataset folder holding the initial conditions."),
    output: Path = typer.Option(..., "--output", "-o", help="Forecast file: .nc (CF netCDF) or .zarr."),
    rollout: int = typer.Option(1, help="Base leads to roll out from each initial time."),
    inits: str = typer.Option("test", help="'test' (every test-period step) or 'last' (the last step)."),
) -> None:
    """Forecast from initial times; the file has init_time and lead_time dimensions and a valid_time coordinate."""
    import numpy as np

    from hfm.climate.data import Normaliser
    from hfm.climate.evaluation import FieldData
    from hfm.climate.pipeline import load_model, write_forecast
    from hfm.shared.artifacts import read_config

    data = FieldData.load(dataset)
    net = load_model(model)
    base = int(read_config(model).get("task", {}).get("lead", 1))
    steps = np.flatnonzero(~data.is_train) if inits == "test" else np.array([data.fields.shape[0] - 1])
    ds = write_forecast(net, data, Normaliser(data), base, steps, rollout, output)
    typer.echo(f"written: {output} ({ds.sizes['init_time']} inits x {ds.sizes['lead_time']} leads)")


@app.command()
def evaluate(
    dataset: Path = typer.Argument(..., help="Curated dataset folder."),
    model: Path = typer.Option(None, help="Exported climate-forecaster to score beside the baselines."),
    lead: list[int] = typer.Option([1], help="Lead in time steps; repeat for several."),
    output: Path = typer.Option(None, "--output", "-o", help="Write the scores as JSON here."),
) -> None:
    """WeatherBench-2 scores (lat-weighted RMSE, ACC, bias) of the model and the three baselines on test targets."""
    from hfm.climate.data import Normaliser
    from hfm.climate.evaluation import FieldData
    from hfm.climate.evaluation import evaluate as run
    from hfm.climate.pipeline import load_model, model_forecaster
    from hfm.shared.artifacts import read_config

    data = FieldData.load(dataset)
    models = {}
    if model:
        base = int(read_config(model).get("task", {}).get("lead", 1))
        models["hfm"] = model_forecaster(load_model(model), data, Normaliser(data), base)
    result = run(data, lead, models)
    for step, table in result.items():
        typer.echo(f"lead {step} step(s) ({step * data.step:g} h), {table['_pairs']} test pairs")
        for method, scores in table.items():
            if method.startswith("_"):
                continue
            cells = "  ".join(f"{k} {v[0]:.4f}" for k, v in scores.items())
            typer.echo(f"  {method:20s} {cells}")
    if output:
        output.write_text(json.dumps(result, indent=1, default=float))
