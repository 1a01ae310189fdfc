"""Two processes (gloo, CPU) under `accelerate launch` train like one process with the same global batch, only
the main process writes the run folder, and model selection (validated on the main process) stops every process at
the same step with the same chosen weights.

Tolerance: every weight within 1e-5 of the one-process run, except the key part of each attention's qkv bias. That
bias has an exactly zero gradient (softmax ignores a shift shared by all keys), so the gradient accumulated in a
different order is rounding noise of ~1e-9 that Adam rescales to steps of size lr; those entries are checked by what
they do instead: the predictions of both models agree within 1e-5.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
import yaml
from safetensors.torch import load_file

from hfm.shared.train.toy import ToyRegressionConfig, ToyRegressor, make_toy_data

STEPS = 12
TOLERANCE = 1e-5


def write_config(folder, out):
    config = {
        "run": {"out_dir": str(out), "seed": 0, "deterministic": True},
        "task": {"name": "toy-regression", "validation_samples": 32},
        "train": {
            "steps": STEPS,
            "batch_size": 16,
            "grad_accum": 2,
            "log_every": 4,
            "ckpt_every": 6,
            "progress": False,
        },
        "optim": {"lr": 3e-3, "warmup_steps": 3},
        # "max" on a falling loss: step 4 is the best, step 8 is worse and patience 1 stops both runs there.
        "validation": {"every": 4, "metric": "loss", "mode": "max", "patience": 1},
    }
    path = folder / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def launch(args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_match_one_and_only_rank0_writes(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    train = ["-m", "hfm.shared.cli.main", "train"]
    single = launch([sys.executable, *train, str(write_config(tmp_path, one))])
    accelerate = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    accelerate += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port"]
    double = launch([*accelerate, "29517", *train, str(write_config(tmp_path, two))])
    for process in (single, double):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, out + err

    summary = json.loads((two / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "completed" and summary["step"] == 8
    # One writer: each logged step once, one TensorBoard file, RNG states of both processes in the checkpoint.
    rows = [json.loads(line) for line in (two / "metrics.jsonl").read_text().splitlines()]
    validations = [json.loads(line) for line in (two / "validation.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [4, 8] and [r["step"] for r in validations] == [4, 8]
    assert len(list((two / "tensorboard").iterdir())) == 1
    selections = [json.loads((run / "selection.json").read_text()) for run in (one, two)]
    assert [s["best_step"] for s in selections] == [4, 4] and all(s["stopped_early"] for s in selections)
    assert abs(selections[0]["best_score"] - selections[1]["best_score"]) < TOLERANCE
    state = json.loads((two / "checkpoints" / "step-000008" / "state.json").read_text())
    assert len(state["rng"]) == 2 and state["rng"][0]["torch"] != state["rng"][1]["torch"]

    a, b = load_file(one / "final" / "model.safetensors"), load_file(two / "final" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        diff = (a[name] - b[name]).abs()
        if name.endswith("attn.qkv.bias"):
            width = diff.shape[0] // 3
            diff = torch.cat([diff[:width], diff[2 * width :]])  # query and value parts
        assert diff.max().item() < TOLERANCE, name

    config = ToyRegressionConfig()
    x, _ = make_toy_data(config)
    predictions = []
    for weights in (a, b):
        model = ToyRegressor(config)
        model.load_state_dict(weights)
        with torch.no_grad():
            predictions.append(model.eval()(x))
    assert (predictions[0] - predictions[1]).abs().max().item() < TOLERANCE


def test_the_exit_handler_destroys_an_initialised_group_and_is_a_no_op_without_one(tmp_path):
    from hfm.shared.train.trainer import _destroy_process_group

    store = torch.distributed.FileStore(str(tmp_path / "store"), 1)
    torch.distributed.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        assert torch.distributed.is_initialized()
        _destroy_process_group()
        assert not torch.distributed.is_initialized()
        _destroy_process_group()  # at exit after an explicit destroy: nothing left to do, no error
        assert not torch.distributed.is_initialized()
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
