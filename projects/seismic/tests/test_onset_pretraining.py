"""The onset-carrying pretraining of the whole picker (issue 14, h52/h53): its targets peak where energy begins, a
dead component teaches nothing, 18 of 60 blocks are hidden, a few steps lower the loss and are seeded, the picker
loads whole, the benchmark pretrains it by default (the MAE on request), and its label-efficiency rows do not depend on
how many processes run them."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import save_file
from typer.testing import CliRunner

from hfm.seismic.benchmarks.picking import PickBenchConfig, efficiency_run, pretrain_picker
from hfm.seismic.benchmarks.recipe import picker_options
from hfm.seismic.cli import app
from hfm.seismic.data.onset_targets import hidden_blocks, onset_targets, standardised_targets
from hfm.seismic.data.records import Records, pick_windows
from hfm.seismic.data.windows import synthetic_windows
from hfm.seismic.tasks import OnsetOptions, PickOptions, SeismicPickTask, load_picker
from hfm.seismic.training import pretrain_onset
from hfm.shared.artifacts import read_weights
from hfm.shared.cli.main import run as hfm_cli
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model
from hfm.shared.parallel import parallel_map
from hfm.shared.shortcuts import RunSettings
from hfm.shared.train.task import build_task


def stepped(samples: int, step: int, quiet: float = 0.01, loud: float = 1.0) -> np.ndarray:
    """A constant-energy alternating trace whose amplitude jumps from `quiet` to `loud` at sample `step`."""
    sign = np.where(np.arange(samples) % 2 == 0, 1.0, -1.0)
    return sign * np.where(np.arange(samples) < step, quiet, loud)


def test_the_p_and_s_targets_peak_where_z_and_the_horizontals_start():
    window = np.stack([stepped(3000, 1000), stepped(3000, 1700), stepped(3000, 1700)])[None].astype(np.float32)
    targets = onset_targets(window)
    assert targets.shape == (1, 4, 3000) and targets.dtype == np.float32
    assert int(targets[0, 0].argmax()) == 1000
    assert int(targets[0, 1].argmax()) == 1700
    # at the onset: scaled loud energy 1.5 ahead (2/3 of the samples loud) over 1.5e-4 behind, each plus eps 1e-4
    assert targets[0, 0, 1000] == pytest.approx(np.log((1.5 + 1e-4) / (1.5e-4 + 1e-4)), abs=1e-3)
    # the envelopes: Z's enters with its sign flipped, N + E's as it is
    assert targets[0, 2, 2500] < targets[0, 2, 500] and targets[0, 3, 2500] > targets[0, 3, 500]


def test_a_dead_component_gives_zero_targets():
    rng = np.random.default_rng(0)
    window = rng.normal(size=(2, 3, 600)).astype(np.float32)
    window[0, 1:] = 0.0  # no horizontals
    window[1, 0] = 5.0  # a constant (dead) vertical
    targets = onset_targets(window)
    assert np.all(targets[0, [1, 3]] == 0.0) and np.abs(targets[0, [0, 2]]).max() > 0.1
    assert np.all(targets[1, [0, 2]] == 0.0) and np.abs(targets[1, [1, 3]]).max() > 0.1


def test_the_targets_are_standardised_over_the_corpus():
    windows = synthetic_windows(6, 0, 1000).waveforms
    targets, mean, sd = standardised_targets(windows)
    np.testing.assert_allclose(targets.mean((0, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(targets.std((0, 2)), 1.0, atol=1e-4)
    assert mean.shape == sd.shape == (4,)


def test_eighteen_of_sixty_half_second_blocks_are_hidden():
    torch.manual_seed(0)
    hidden = hidden_blocks(5, 3000)
    assert hidden.shape == (5, 3000)
    blocks = hidden.reshape(5, 60, 50)
    assert torch.equal(blocks.all(-1), blocks.any(-1))  # whole blocks only
    assert blocks.all(-1).sum(1).tolist() == [18] * 5
    assert not torch.equal(blocks[0], blocks[1])  # each window its own draw
    ragged = hidden_blocks(2, 1020)  # 20 whole blocks and a 20-sample tail, which stays visible
    assert ragged.shape == (2, 1020) and not ragged[:, 1000:].any() and ragged.sum(1).tolist() == [300, 300]


def _pretrain(tmp_path, name: str, seed: int = 3, depth: int = 2):
    windows = synthetic_windows(8, 0, 1000).waveforms
    settings = RunSettings(steps=40, batch_size=4, lr=1e-3, seed=seed, progress=False)
    out = tmp_path / name
    model, result = pretrain_onset(windows, out, settings, OnsetOptions(refiner_depth=depth))
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    return model, result, losses, out


def test_a_few_steps_lower_the_loss_and_are_seeded(tmp_path):
    _, result, losses, out = _pretrain(tmp_path, "a")
    _, _, losses_again, out_again = _pretrain(tmp_path, "b")
    assert result.status == "completed" and result.step == 40
    assert np.mean(losses[-3:]) < 0.9 * np.mean(losses[:3])
    assert losses == losses_again
    first, second = (read_weights(o / "final" / "model.safetensors") for o in (out, out_again))
    assert sorted(first) == sorted(second) and all(torch.equal(first[k], second[k]) for k in first)
    _, _, other, _ = _pretrain(tmp_path, "c", seed=4)
    assert other != losses
    # the run config records the task's options (in memory as through the CLI), not an empty task section
    recorded = yaml.safe_load((out / "config.yaml").read_text())["task"]
    assert recorded["name"] == "seismic-onset" and recorded["dataset"] == "in memory" and recorded["seed"] == 3
    assert (recorded["refiner_depth"], recorded["horizontal_dropout"], recorded["horizontal_noise"]) == (2, 0.3, 0.5)


def test_the_whole_picker_loads_and_a_mismatch_fails_clearly(tmp_path):
    torch.manual_seed(1)
    pretrained = create_model("seismic-picker-tiny", refiner_depth=8, normalization="component")
    save_file(pretrained.state_dict(), str(tmp_path / "picker.safetensors"))
    fresh = create_model("seismic-picker-tiny", refiner_depth=8, normalization="component")
    report = load_picker(fresh, tmp_path / "picker.safetensors")
    assert len(report.matched) == 52 and not report.missing and not report.unused and not report.mismatched
    assert all(torch.equal(v, pretrained.state_dict()[k]) for k, v in fresh.state_dict().items())
    # a picker without the refiner cannot fill a depth-8 one
    save_file(create_model("seismic-picker-tiny").state_dict(), str(tmp_path / "plain.safetensors"))
    with pytest.raises(HFMError, match=r"does not fit.*missing refiner"):
        load_picker(fresh, tmp_path / "plain.safetensors")
    # ... while a depth-0 picker takes all of its 32 tensors from the depth-8 file, the refiner's left unused
    shallow = create_model("seismic-picker-tiny", normalization="component")
    report = load_picker(shallow, tmp_path / "picker.safetensors")
    assert len(report.matched) == 32 and len(report.unused) == 20
    # the fine-tuning task loads every tensor when asked to
    options = PickOptions(
        "in memory", init=tmp_path / "picker.safetensors", init_scope="picker", model_args={"refiner_depth": 8}
    )
    task = SeismicPickTask(options, synthetic_windows(4, 0, 1000))
    model = task.build_model()
    assert torch.equal(model.state_dict()["head.weight"], pretrained.state_dict()["head.weight"])
    # ... and refuses to drop the pretrained refiner into a picker built without one
    shallow_options = replace(options, model_args={})
    with pytest.raises(HFMError, match=r"holds 20 tensors this picker lacks \(refiner\."):
        SeismicPickTask(shallow_options, synthetic_windows(4, 0, 1000)).build_model()
    # init_scope picker without init is refused where the task is built (a YAML run config too), not trained from
    # scratch in silence
    with pytest.raises(HFMError, match="init_scope picker loads every tensor of init, and init is not given"):
        build_task("seismic-pick", {"dataset": "synthetic", "synthetic": 4, "init_scope": "picker"})


def test_the_cli_pretrains_onset_replays_it_and_fine_tunes_the_whole_picker(tmp_path):
    torch.set_num_threads(1)
    runner = CliRunner()
    small = ["--steps", "2", "--batch-size", "4", "--samples", "1000", "--synthetic", "8", "--refiner-depth", "2"]
    pre, tuned = tmp_path / "pre", tmp_path / "tuned"
    result = runner.invoke(app, ["pretrain-onset", "synthetic", "--out", str(pre), *small])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((pre / "run.yaml").read_text())
    assert config["task"]["name"] == "seismic-onset" and config["task"]["refiner_depth"] == 2
    try:  # `hfm train` replays the run byte for byte
        hfm_cli(["train", str(pre / "run.yaml"), "--set", f"run.out_dir={tmp_path / 'replay'}"])
    except SystemExit as done:
        assert done.code in (0, None)
    replayed = (tmp_path / "replay" / "final" / "model.safetensors").read_bytes()
    assert replayed == (pre / "run" / "final" / "model.safetensors").read_bytes()
    scope = ["--init", str(pre / "model"), "--init-scope", "picker", "--normalization", "component"]
    result = runner.invoke(app, ["finetune", "synthetic", "--out", str(tuned), *scope, *small])
    assert result.exit_code == 0, result.output
    options = yaml.safe_load((tuned / "run.yaml").read_text())["task"]
    assert options["init_scope"] == "picker" and options["model_args"] == {"refiner_depth": 2}
    start = build_task("seismic-pick", {k: v for k, v in options.items() if k != "name"}).build_model()
    pretrained = read_weights(pre / "model" / "model.safetensors")
    assert len(pretrained) == len(start.state_dict()) == 40  # every tensor of the depth-2 picker, refiner included
    assert all(torch.equal(v, pretrained[k]) for k, v in start.state_dict().items())
    result = runner.invoke(app, ["finetune", "synthetic", "--out", str(tmp_path / "x"), "--init-scope", "picker"])
    assert result.exit_code != 0 and "init_scope picker loads every tensor of init" in str(result.exception)


def test_the_benchmark_pretrains_the_onset_picker_by_default_and_the_mae_on_request():
    config = PickBenchConfig()
    assert config.pretrain_objective == "onset" and config.onset_pretrain_steps == 1600
    assert config.efficiency_refiner_depth == config.refiner_depth == 8  # few-label pickers as judged on dev (h53)
    assert picker_options(config, "weights")["init_scope"] == "picker"
    assert "init_scope" not in picker_options(config)  # the scratch picker has nothing to load
    mae = PickBenchConfig(pretrain_objective="mae")
    assert "init_scope" not in picker_options(mae, "weights") and mae.pretrain_steps == 400  # the encoder alone
    with pytest.raises(HFMError, match="pretrain_objective"):
        PickBenchConfig(pretrain_objective="denoise")


def test_label_efficiency_rows_are_the_same_in_two_processes_as_in_one(tmp_path):
    config = replace(PickBenchConfig.quick(), window=400, batch_size=2, refiner_depth=2, efficiency_steps=2)
    train = Records.from_windows(synthetic_windows(4, seed=4, samples=1000, noise_fraction=0.0))
    windows = {p: pick_windows(train, p, config.window, 0) for p in ("P", "S")}
    jobs = [(train, 0.5, seed, "scratch", None, tmp_path / str(seed), config, windows) for seed in (0, 1)]
    serial = parallel_map(efficiency_run, jobs, workers=1)
    spawned = parallel_map(efficiency_run, jobs, workers=2)
    assert spawned == serial
    assert [row["seed"] for row in serial] == [0, 1] and serial[0] != serial[1]  # seeded per job
    assert all(0 <= row["P hit 0.2 s"] <= 1 and row["records"] == 4 for row in serial)


def test_the_benchmark_s_onset_option_pretrains_the_picker_and_fine_tunes_it_whole(tmp_path):
    config = replace(PickBenchConfig.quick(), pretrain_objective="onset", onset_pretrain_steps=2, batch_size=4)
    corpus = synthetic_windows(4, 0, config.window).waveforms
    pretrain_picker(corpus, tmp_path / "pretrain", config)
    pretrained = read_weights(tmp_path / "pretrain" / "final" / "model.safetensors")
    assert len(pretrained) == 52  # the whole depth-8 picker
    options = PickOptions("in memory", **picker_options(config, str(tmp_path / "pretrain" / "final")))
    model = SeismicPickTask(options, synthetic_windows(4, 0, config.window)).build_model()
    assert all(torch.equal(v, pretrained[k]) for k, v in model.state_dict().items())
