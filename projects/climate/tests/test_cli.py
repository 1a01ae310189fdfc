"""`hfm climate pretrain | finetune` write the run.yaml they ran, and `hfm train` replays it byte for byte; the
shipped configs parse into the tasks' typed options; a misspelt option is refused by name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hfm.climate.cli import app
from hfm.climate.curate import curate_fields
from hfm.climate.experiments.end_to_end import HADISST_OWNER
from hfm.climate.tasks import DownscaleOptions, ForecastOptions, MAEOptions
from hfm.shared.cli.main import run as hfm_cli
from hfm.shared.errors import HFMError
from hfm.shared.options import parse_options
from hfm.shared.train.config import load_config
from hfm.shared.train.task import build_task

CONFIGS = Path(__file__).parents[1] / "configs"
TINY = ["--patch-lat", "4", "--patch-lon", "6", "--width", "16", "--depth", "1", "--heads", "2"]


@pytest.fixture(scope="module")
def sst_store(hadisst, tmp_path_factory):
    out = tmp_path_factory.mktemp("sst") / "data"
    curate_fields([hadisst], out, HADISST_OWNER, train_start="1991-01-01", train_end="2014-12-31", show_progress=False)
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _replay(config: Path, out: Path) -> Path:
    try:
        hfm_cli(["train", str(config), "--set", f"run.out_dir={out}"])
    except SystemExit as done:
        assert done.code in (0, None)
    return out / "final" / "model.safetensors"


def test_pretrain_and_finetune_are_replayed_byte_identically(sst_store, tmp_path):
    runner = CliRunner()
    pre, tuned = tmp_path / "pre", tmp_path / "tuned"
    common = ["--steps", "3", "--batch-size", "4", "--lr", "5e-4", "--seed", "1", "-q", *TINY]
    result = runner.invoke(app, ["pretrain", str(sst_store), "--out", str(pre), *common, "--set", "train.log_every=1"])
    assert result.exit_code == 0, result.output
    argv = ["finetune", str(sst_store), "--out", str(tuned), "--init", str(pre / "model"), *common]
    result = runner.invoke(app, [*argv, "--model", "climate-forecaster", "--lead", "1"])
    assert result.exit_code == 0, result.output
    config = load_config(tuned / "run.yaml")
    assert (config.optim.lr, config.optim.weight_decay, config.train.steps) == (5e-4, 0.01, 3)
    assert config.task.options["init"] == str(pre / "model") and config.task.options["base"] == "persistence"
    assert load_config(pre / "run.yaml").train.log_every == 1  # the --set override is part of what was run
    for run in (pre, tuned):
        replayed = _replay(run / "run.yaml", tmp_path / f"replay-{run.name}")
        assert _sha(replayed) == _sha(run / "run" / "final" / "model.safetensors")


def test_wrong_model_name_is_refused_in_one_line(sst_store, tmp_path):
    result = CliRunner().invoke(app, ["pretrain", str(sst_store), "--out", str(tmp_path), "--model", "climate-unet"])
    assert result.exit_code != 0
    assert "'climate-mae' or 'climate-interpolator'" in str(result.exception)


@pytest.mark.parametrize(
    ("name", "options"),
    [("climate-mae", MAEOptions), ("climate-forecast", ForecastOptions), ("climate-downscale", DownscaleOptions)],
)
def test_shipped_configs_parse_into_the_typed_options(name, options):
    config = load_config(CONFIGS / f"{name}.yaml")
    assert config.task.name == name
    parsed = parse_options(options, dict(config.task.options), name)
    assert str(parsed.dataset) == "DATASET" and (parsed.patch_lat, parsed.width) == (4, 64)


def test_shipped_interpolator_config_is_the_benchmark_variant():
    from hfm.climate.experiments.end_to_end import INTERP_CONTEXT, INTERP_RADIUS, INTERP_WINDOW, Budget

    config = load_config(CONFIGS / "climate-interpolator.yaml")
    parsed = parse_options(MAEOptions, dict(config.task.options), "climate-mae")
    assert (parsed.mode, parsed.base, parsed.climatology_channel) == ("interpolation", "fitted", True)
    assert (parsed.window, parsed.context, parsed.radius) == (INTERP_WINDOW, INTERP_CONTEXT, INTERP_RADIUS) == (9, 1, 3)
    # the benchmark trains through the same path (no selection, the whole training period) for as many steps
    assert not Budget().interp_selection and config.train.steps == Budget().interp_steps == 600


def test_interpolator_with_a_fitted_base_is_replayed_byte_identically(sst_store, tmp_path):
    """`pretrain --model climate-interpolator` with context steps and the fitted base over 3 x 3 neighbourhoods:
    the least-squares weights are fitted on the training windows, saved with the model, and `hfm train run.yaml`
    reproduces every byte."""
    from hfm.climate.baselines.interpolation import fit_gap_weights
    from hfm.climate.data import FieldData, window_starts
    from hfm.climate.predict import load_model

    out = tmp_path / "interp"
    sets = ["--set", "task.context=1", "--set", "task.base=fitted", "--set", "task.climatology_channel=true",
            "--set", "task.radius=1"]  # fmt: skip
    argv = ["pretrain", str(sst_store), "--out", str(out), "--model", "climate-interpolator", "--window", "5",
            "--steps", "3", "--batch-size", "4", "--seed", "1", "-q", *TINY, *sets]  # fmt: skip
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0, result.output
    data = FieldData.load(sst_store)
    weights = fit_gap_weights(data.anomalies(), window_starts(data, 5, "train"), 5, context=1, radius=1)
    assert weights.shape == (1, 8)  # one hidden month from two on each side and their neighbourhood means
    model = load_model(out / "model")
    np.testing.assert_allclose(model.base_weights.numpy(), weights, rtol=1e-5, atol=1e-6)
    replayed = _replay(out / "run.yaml", tmp_path / "replay")
    assert _sha(replayed) == _sha(out / "run" / "final" / "model.safetensors")


def test_unknown_task_option_is_refused_naming_the_allowed_ones(sst_store):
    with pytest.raises(HFMError, match=r"unknown option 'sampels'; allowed: .*dataset.*window"):
        build_task("climate-mae", {"dataset": str(sst_store), "sampels": 400})
    with pytest.raises(HFMError, match=r"option 'dataset' is required"):
        build_task("climate-forecast", {"lead": 1})
    with pytest.raises(HFMError, match=r"'base_modes' is required with base 'lim'"):
        build_task("climate-forecast", {"dataset": str(sst_store), "base": "lim"})


def test_benchmark_names_only_the_domains_own(tmp_path):
    result = CliRunner().invoke(app, ["benchmark", "--out", str(tmp_path), "--only", "climate-nope"])
    assert result.exit_code != 0 and not (tmp_path / "partial").exists()
    assert "climate-era5, climate-era5-fields, climate-hadisst, climate-speed" in str(result.exception)


def test_curate_never_assumes_a_licence(hadisst, tmp_path):
    result = CliRunner().invoke(app, ["curate", str(hadisst), "--out", str(tmp_path / "d"), "--creator", "Met Office"])
    assert result.exit_code == 2 and "--license" in result.output and not (tmp_path / "d").exists()
