"""The trainer in this process: bf16 autocast on CPU, loss falls, EMA, run folder contents."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from accelerate.state import AcceleratorState
from safetensors.torch import load_file

from hfm.shared.errors import HFMError
from hfm.shared.train.config import load_config
from hfm.shared.train.task import build_task
from hfm.shared.train.trainer import Trainer


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    # accelerate keeps one process-wide state; other tests in this process may have set it up differently.
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_bf16_run_learns_and_fills_the_run_folder(tmp_path):
    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path / 'run'}",
            "task.name=toy-regression",
            "task.samples=128",
            "train.steps=24",
            "train.batch_size=16",
            "train.precision=bf16",
            "train.log_every=8",
            "train.ckpt_every=12",
            "train.progress=false",
            "optim.lr=3e-3",
            "optim.min_lr=1e-4",
            "ema.enabled=true",
            "ema.decay=0.8",
        ],
    )
    trainer = Trainer(cfg, build_task(cfg.task.name, cfg.task.options))
    assert trainer.accelerator.mixed_precision == "bf16"
    result = trainer.fit()
    run = tmp_path / "run"
    assert result.status == "completed" and result.step == 24 and result.samples_per_s > 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [8, 16, 24]
    assert rows[-1]["loss"] < 0.8 * rows[0]["loss"]  # it learns under bf16 autocast
    assert all(r["samples_per_s"] > 0 for r in rows) and rows[-1]["lr"] == pytest.approx(1e-4)
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["precision"] == "bf16"
    env = json.loads((run / "environment.json").read_text())
    assert env["world_size"] == 1 and env["hostname"] and env["packages"]["torch"] == torch.__version__
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == ["step-000012", "step-000024"]
    weights, ema = load_file(run / "final" / "model.safetensors"), load_file(run / "final" / "ema.safetensors")
    assert weights.keys() == ema.keys()
    assert any(not torch.equal(weights[k], ema[k]) for k in weights)  # EMA is its own average, not a copy
    summary = json.loads((run / "summary.json").read_text())
    assert summary["energy_this_session"]["gpu"]["joules"] is None  # CPU run: unknown, with a reason
    assert summary["energy_this_session"]["gpu"]["reason"]


def test_resume_refuses_a_changed_global_batch(tmp_path):
    base = [f"run.out_dir={tmp_path}", "task.samples=64", "train.steps=2", "train.batch_size=8", "train.progress=false"]
    cfg = load_config(None, base)
    Trainer(cfg, build_task(cfg.task.name, cfg.task.options)).fit()
    AcceleratorState._reset_state(reset_partial_state=True)
    changed = load_config(None, [*base, "train.batch_size=16", "train.steps=4"])
    with pytest.raises(HFMError, match=r"train\.batch_size is 16 but the run was started with 8"):
        Trainer(changed, build_task(changed.task.name, changed.task.options)).fit()
