"""The trainer in this process: bf16 autocast on CPU, loss falls, EMA, run folder contents; the benchmark harness."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from accelerate.state import AcceleratorState
from safetensors.torch import load_file

from hfm.shared.errors import HFMError
from hfm.shared.train import benchmark
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


def test_harness_discovers_runs_and_reports_failures(tmp_path, monkeypatch):
    (tmp_path / "fake_bench.py").write_text(
        "def good():\n"
        "    return [{'name': 'x', 'value': 2.0, 'baseline': 1.0, 'ratio': 2.0, 'unit': 's', 'command': 'c'}]\n"
        "def incomplete():\n"
        "    return [{'name': 'y', 'value': 1.0}]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(benchmark, "CORE_BENCHMARKS", {"good": "fake_bench:good", "bad": "fake_bench:incomplete"})
    found = {b.name: b for b in benchmark.discover()}  # installed domains may add their own
    assert found["good"].origin == "core" and found["bad"].target == "fake_bench:incomplete"
    results = benchmark.run_benchmarks(["good", "bad"])
    assert [f["name"] for f in results["figures"]] == ["x"]
    assert results["failures"][0]["benchmark"] == "bad" and "lacks baseline, ratio" in results["failures"][0]["error"]
    json_path, md_path = benchmark.write_results(results, tmp_path / "out")
    assert json.loads(json_path.read_text())["figures"][0]["ratio"] == 2.0
    assert "| good | x | 2 | 1 | **2.000** | s |  | `c` |" in md_path.read_text()
    with pytest.raises(HFMError, match="unknown benchmark 'nope'"):
        benchmark.run_benchmarks(["nope"])


def test_trainer_overhead_figures_are_side_by_side_ratios():
    from hfm.shared.train.overhead import trainer_overhead

    figures = trainer_overhead(repeats=1, steps=3, batch=16)
    assert len(figures) == 2
    for figure in figures:
        assert figure["value"] > 0 and figure["baseline"] > 0
        assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline"])


def test_partial_benchmark_run_replaces_only_its_figures(tmp_path):
    def figure(bench, name, ratio):
        return {
            "benchmark": bench,
            "name": name,
            "value": ratio,
            "baseline": 1.0,
            "ratio": ratio,
            "unit": "s",
            "command": "c",
        }

    machine = {"hostname": "h", "platform": "p", "cpus": 2, "load_average_1min": 0.5}
    old = {
        "date": "2026-01-01T00:00:00+00:00",
        "machine": machine,
        "failures": [],
        "figures": [figure("a", "a1", 1.5), figure("b", "b1", 2.0), figure("b", "b2", 3.0)],
    }
    (tmp_path / "results.json").write_text(json.dumps(old))
    new = {
        "runs": [{"date": "2026-02-02T00:00:00+00:00", "machine": machine, "benchmarks": ["b"]}],
        "figures": [figure("b", "b1", 1.1) | {"run": "2026-02-02T00:00:00+00:00"}],
        "failures": [],
    }
    json_path, md_path = benchmark.write_results(new, tmp_path, merge=True)
    merged = json.loads(json_path.read_text())
    assert [(f["name"], f["ratio"], f["run"][:7]) for f in merged["figures"]] == [
        ("a1", 1.5, "2026-01"),
        ("b1", 1.1, "2026-02"),
    ]  # b2 was not measured again: gone, not stale
    assert [r["date"][:7] for r in merged["runs"]] == ["2026-01", "2026-02"]
    text = md_path.read_text()
    assert "- 2026-01-01T00:00:00+00:00 on h (2 CPUs, 1-min load 0.50): a, b" in text
    assert "| b | b1 | 1.1 | 1 | **1.100** |" in text and "b2" not in text
    # a later run of both benchmarks leaves no figure to the earlier runs: they are dropped from the list
    later = {
        "runs": [{"date": "2026-03-03T00:00:00+00:00", "machine": machine, "benchmarks": ["a", "b"]}],
        "figures": [figure("a", "a1", 1.2) | {"run": "2026-03-03T00:00:00+00:00"}],
        "failures": [],
    }
    assert [r["date"][:7] for r in benchmark.merge_results(merged, later)["runs"]] == ["2026-03"]
