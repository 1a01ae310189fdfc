"""`hfm climate curate | stats | pretrain | finetune | predict | evaluate | benchmark`, with the shared arguments.

`stats` is climate's own verb (the statistics, time axis and grid of a curated store); the others mean what they
mean in every domain. pretrain and finetune write OUT/run.yaml, which `hfm train OUT/run.yaml` replays.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Annotated

import typer

from hfm.shared.cli.curate_command import CurateRequest, curate_command
from hfm.shared.cli.options import Dataset, Init, Out, Quiet
from hfm.shared.cli.training import TrainingRun, add_training_command
from hfm.shared.shortcuts import ShortcutResult

app = typer.Typer(
    help="Gridded fields: curate into CF zarr, pretrain, fine-tune, predict, evaluate, benchmark.",
    no_args_is_help=True,
)

_ARCH_HELP = "Patch size in grid points along latitude and longitude."
_PRETRAIN_MODELS = {"climate-mae": "random", "climate-interpolator": "interpolation"}
_FINETUNE_MODELS = {"climate-forecaster": "climate-forecast", "climate-downscaler": "climate-downscale"}


def _arch(given: dict) -> dict:
    """The trunk's shape options, taken out of the command's own options."""
    return {name: given.pop(name) for name in ("patch_lat", "patch_lon", "width", "depth", "heads")}


def _choose(model: str, allowed: dict[str, str]) -> str:
    from hfm.shared.errors import HFMError

    if model not in allowed:
        raise HFMError(f"--model {model!r}: this command trains {' or '.join(map(repr, allowed))}")
    return allowed[model]


def _train(task: str, options: dict, run: TrainingRun, quiet: bool) -> ShortcutResult:
    from hfm.climate.training import train_and_export

    return train_and_export(task, options, run.out, **asdict(replace(run.settings, progress=not quiet)))


@curate_command(
    app, shard_size=0, shard_help="Files per shard (a zarr store each); 0: one store.", name="climate-fields"
)
def curate(
    inputs: Annotated[list[Path], typer.Argument(help="netCDF, GRIB or zarr files (or folders of them).")],
    variable: Annotated[
        list[str] | None, typer.Option("--variable", "-v", help="Variable to keep; repeat. Default: all.")
    ] = None,
    train_start: Annotated[str | None, typer.Option(help="First day of the training period, YYYY-MM-DD.")] = None,
    train_end: Annotated[
        str | None, typer.Option(help="Last day (inclusive) of the training period, YYYY-MM-DD.")
    ] = None,
    max_nan_fraction: Annotated[float, typer.Option(help="Quarantine a file with more NaN than this fraction.")] = 0.5,
    *,
    request: CurateRequest,
) -> None:
    """Harmonise files into one CF zarr (time, variable, level if any, lat, lon); quarantine what cannot be fixed."""
    from hfm.climate.curate import curate_fields_dataset
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
    out = request.out
    done = curate_fields_dataset(
        files,
        out,
        request.describe(),
        variables=variable or None,
        train_start=train_start,
        train_end=train_end,
        max_nan_fraction=max_nan_fraction,
        show_progress=request.show_progress,
        rejected=rejected,
        sharding=request.sharding,
    )
    if done.summary is None:
        typer.echo(f"{out}: part {request.part or 'of the array'} curated")
        return
    typer.echo(done.summary.line())
    store = out / "shards" if request.sharding.shard_size else out / "data.zarr"
    typer.echo(f"written: {store}; card: {out / 'card.json'}")


@app.command()
def stats(dataset: Dataset) -> None:
    """Per-variable statistics of the training period, the time axis and the grid."""
    from hfm.climate.format import open_store

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


def _pretrain(run: TrainingRun) -> ShortcutResult:
    given = dict(run.extra)
    mode = _choose(run.model, _PRETRAIN_MODELS)
    options = {"dataset": str(run.dataset), "window": given.pop("window"), "mode": mode}
    options |= {"mask_ratio": given.pop("mask_ratio")} | _arch(given)
    return _train("climate-mae", options, run, quiet=given.pop("quiet"))


def _finetune(run: TrainingRun) -> ShortcutResult:
    given = dict(run.extra)
    task = _choose(run.model, _FINETUNE_MODELS)
    heads = {"lead": given.pop("lead"), "history": given.pop("history")}
    factor = {"factor": given.pop("factor")}
    options = {"dataset": str(run.dataset), **_arch(given), **(heads if task == "climate-forecast" else factor)}
    if run.init:
        options["init"] = str(run.init)
    return _train(task, options, run, quiet=given.pop("quiet"))


def _arch_options(must_match: str = "") -> dict:
    return {
        "patch_lat": (int, typer.Option(4, help=_ARCH_HELP)),
        "patch_lon": (int, typer.Option(4, help=_ARCH_HELP)),
        "width": (int, typer.Option(64, help=f"Trunk width{must_match}.")),
        "depth": (int, typer.Option(2, help=f"Trunk depth{must_match}.")),
        "heads": (int, typer.Option(4, help=f"Attention heads{must_match}.")),
        "quiet": (Quiet, False),
    }


add_training_command(
    app,
    "pretrain",
    _pretrain,
    help="Masked token pretraining (--model climate-mae) or temporal interpolation training (climate-interpolator: "
    "the inner steps of each window hidden); writes OUT/run.yaml (replay: hfm train OUT/run.yaml) and OUT/model.",
    model="climate-mae",
    steps=200,
    batch_size=16,
    extra={
        "window": (int, typer.Option(2, help="Time steps per window.")),
        "mask_ratio": (float, typer.Option(0.75, help="Fraction of tokens hidden (climate-mae).")),
        **_arch_options(),
    },
)
add_training_command(
    app,
    "finetune",
    _finetune,
    help="Train a forecaster (--model climate-forecaster) or a downscaler (climate-downscaler), from --init's "
    "encoder when given; writes OUT/run.yaml (replay: hfm train OUT/run.yaml) and OUT/model.",
    model="climate-forecaster",
    steps=300,
    batch_size=16,
    init=True,
    extra={
        "lead": (int, typer.Option(1, help="Base lead in time steps (climate-forecaster).")),
        "history": (int, typer.Option(2, help="Input steps, `lead` apart (climate-forecaster).")),
        "factor": (int, typer.Option(4, help="Coarsening factor (climate-downscaler).")),
        **_arch_options(" (must match --init)"),
    },
)


@app.command()
def predict(
    dataset: Dataset,
    out: Out,
    init: Init = None,
    rollout: Annotated[int, typer.Option(help="Base leads to roll out from each initial time.")] = 1,
    inits: Annotated[str, typer.Option(help="'test' (every test-period step) or 'last' (the last step).")] = "test",
    zarr: Annotated[bool, typer.Option("--zarr", help="Write OUT/forecast.zarr instead of OUT/forecast.nc.")] = False,
) -> None:
    """Forecast with the climate-forecaster --init from initial times of DATASET; OUT/forecast.nc (CF netCDF) has
    init_time and lead_time dimensions and a valid_time coordinate."""
    import numpy as np

    from hfm.climate.data import FieldData, Normaliser
    from hfm.climate.predict import load_model, write_forecast
    from hfm.shared.artifacts import read_config
    from hfm.shared.errors import HFMError

    if init is None:
        raise HFMError("predict needs --init MODEL (an exported climate-forecaster folder)")
    data = FieldData.load(dataset)
    net = load_model(init)
    base = int(read_config(init).get("task", {}).get("lead", 1))
    steps = np.flatnonzero(~data.is_train) if inits == "test" else np.array([data.fields.shape[0] - 1])
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("forecast.zarr" if zarr else "forecast.nc")
    ds = write_forecast(net, data, Normaliser(data), base, steps, rollout, path)
    typer.echo(f"written: {path} ({ds.sizes['init_time']} inits x {ds.sizes['lead_time']} leads)")


@app.command()
def evaluate(
    dataset: Dataset,
    out: Out,
    init: Init = None,
    lead: Annotated[list[int], typer.Option(help="Lead in time steps; repeat for several.")] = [1],  # noqa: B006 (never mutated)
) -> None:
    """WeatherBench-2 scores (lat-weighted RMSE, ACC, bias) of the three baselines, and of the climate-forecaster
    --init when given, on the test targets; OUT/scores.json."""
    from hfm.climate.data import FieldData, Normaliser
    from hfm.climate.metrics import evaluate as run
    from hfm.climate.predict import load_model, model_forecaster
    from hfm.shared.artifacts import read_config

    data = FieldData.load(dataset)
    models = {}
    if init:
        base = int(read_config(init).get("task", {}).get("lead", 1))
        models["hfm"] = model_forecaster(load_model(init), data, Normaliser(data), base)
    result = run(data, lead, models)
    for step, table in result.items():
        typer.echo(f"lead {step} step(s) ({step * data.step:g} h), {table['_pairs']} test pairs")
        for method, scores in table.items():
            if method.startswith("_"):
                continue
            cells = "  ".join(f"{k} {v[0]:.4f}" for k, v in scores.items())
            typer.echo(f"  {method:20s} {cells}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "scores.json").write_text(json.dumps(result, indent=1, default=float))
    typer.echo(f"written: {out / 'scores.json'}")


@app.command()
def benchmark(
    out: Out = Path("benchmarks"),
    only: Annotated[
        list[str] | None, typer.Option("--only", help="One of the climate benchmarks; repeat. Default: all.")
    ] = None,
) -> None:
    """The climate benchmarks through the shared harness, to OUT/partial/ (like `tools/bench.py --only`); their
    run folders under $HFM_BENCH_OUT/climate (default OUT/climate)."""
    from hfm.climate.plugin import plugin
    from hfm.shared.train.benchmark import run_domain_benchmarks

    results, md_path = run_domain_benchmarks("climate", list(plugin.benchmarks), only, out)
    typer.echo(md_path.read_text())
    if results["failures"]:
        raise typer.Exit(1)
