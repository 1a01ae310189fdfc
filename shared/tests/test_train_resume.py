"""Exact resume: a run killed (SIGKILL) or preempted (SIGTERM) and resumed ends with the same bytes as one that ran
through; SIGTERM saves a checkpoint and exits with the requeue code; a damaged newest checkpoint is skipped. With
model selection: killed during and between validations, final/ (the best step), last/ and selection.json still end
byte-identical, and the dead run's lock is taken over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hfm.shared.exitcodes import EXIT_REQUEUE

STEPS = 24  # 16 steps per epoch: the run crosses an epoch boundary after the resume


def write_config(folder: Path, step_sleep_s: float) -> Path:
    config = {
        "run": {"out_dir": str(folder / "run"), "seed": 7, "deterministic": True},
        # dropout draws from the global RNG, so the RNG state must be restored for the bytes to match
        "task": {"name": "toy-regression", "dropout": 0.1, "step_sleep_s": step_sleep_s},
        "train": {"steps": STEPS, "batch_size": 16, "grad_accum": 2, "log_every": 2, "ckpt_every": 4, "keep_last": 3},
        "optim": {"lr": 3e-3, "warmup_steps": 3, "min_lr": 1e-4},
        "ema": {"enabled": True, "decay": 0.9},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start(config: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    return subprocess.Popen(
        [sys.executable, "-m", "hfm.shared.cli.main", "train", str(config), "--set", "train.progress=false"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out + err


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, f"training ended before {path} appeared: {finish(process)}"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def final_bytes(run: Path) -> tuple[bytes, bytes]:
    return (run / "final" / "model.safetensors").read_bytes(), (run / "final" / "ema.safetensors").read_bytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, started in the background while the tests start their own."""
    folder = tmp_path_factory.mktemp("reference")
    process = start(write_config(folder, step_sleep_s=0.0))

    def result() -> tuple[bytes, bytes]:
        code, log = finish(process)
        assert code == 0, log
        return final_bytes(folder / "run")

    return result


def test_sigkill_then_resume_is_bitwise_identical(tmp_path, reference):
    config = write_config(tmp_path, step_sleep_s=0.1)
    run = tmp_path / "run"
    first = start(config)
    wait_for(run / "checkpoints" / "step-000008" / "manifest.json", first)
    first.send_signal(signal.SIGKILL)
    finish(first)
    assert first.returncode == -signal.SIGKILL
    assert not (run / "final").exists(), "the killed run must not have finished"
    killed_at = max(json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines())
    assert 8 <= killed_at < STEPS

    code, log = finish(start(config))
    assert code == 0, log
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["step"] == STEPS
    assert summary["resumed_from"] in (8, 12, 16, 20) and summary["resumed_from"] <= killed_at
    assert final_bytes(run) == reference()


def test_sigterm_checkpoints_exits_75_and_damaged_newest_is_skipped(tmp_path, reference):
    config = write_config(tmp_path, step_sleep_s=0.1)
    run = tmp_path / "run"
    first = start(config)
    wait_for(run / "checkpoints" / "step-000004" / "manifest.json", first)
    first.send_signal(signal.SIGTERM)
    code, log = finish(first)
    assert code == EXIT_REQUEUE, log
    summary = json.loads((run / "summary.json").read_text())
    stopped = summary["step"]
    assert summary["status"] == "preempted" and 4 <= stopped < STEPS
    assert not (run / "run.lock").exists()  # released on the way out, so a requeue finds the folder free
    newest = run / "checkpoints" / f"step-{stopped:06d}"
    assert (newest / "manifest.json").is_file()
    assert json.loads((newest / "state.json").read_text())["step"] == stopped

    # Damage the newest checkpoint as a crash in the middle of a copy would: resume must use the one before.
    model = newest / "model.safetensors"
    model.write_bytes(model.read_bytes()[:100])
    code, log = finish(start(config))
    assert code == 0, log
    assert f"skipping checkpoint step-{stopped:06d}" in log and "truncated" in log
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_from"] < stopped
    assert final_bytes(run) == reference()


SELECTION_STEPS = 24  # 4 steps per epoch; validations at 4, 8, ..., 24


def write_selection_config(folder: Path, sleeps: bool) -> Path:
    config = {
        "run": {"out_dir": str(folder / "run"), "seed": 5, "deterministic": True},
        "task": {
            "name": "toy-regression",
            "samples": 64,
            "noise": 1.0,
            "validation_samples": 48,
            "dropout": 0.1,  # the training's RNG must survive validations and resumes
            "step_sleep_s": 0.05 if sleeps else 0.0,
            "validation_sleep_s": 0.6 if sleeps else 0.0,
        },
        "train": {"steps": SELECTION_STEPS, "batch_size": 16, "log_every": 4, "ckpt_every": 8, "keep_last": 1},
        "optim": {"lr": 3e-3, "warmup_steps": 2, "min_lr": 1e-4},
        "ema": {"enabled": True, "decay": 0.9},
        "validation": {"every": 4, "metric": "loss", "mode": "min", "patience": 4, "at_start": True},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def selection_outputs(run: Path) -> dict[str, bytes]:
    names = ["final/model.safetensors", "final/ema.safetensors", "last/model.safetensors", "last/ema.safetensors"]
    return {name: (run / name).read_bytes() for name in [*names, "selection.json"]}


def metric_rows(run: Path, skip: int = 0, name: str = "metrics.jsonl") -> list[dict]:
    path = run / name
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()[skip:] if line.strip()]


def wait_for_row(run: Path, process, predicate, skip: int = 0, name: str = "metrics.jsonl", timeout=240) -> None:
    deadline = time.monotonic() + timeout
    while not any(predicate(row) for row in metric_rows(run, skip, name)):
        assert process.poll() is None, f"training ended early: {finish(process)}"
        assert time.monotonic() < deadline, "the awaited metrics line did not appear"
        time.sleep(0.02)


def test_sigkill_during_and_between_validations_resumes_bitwise(tmp_path):
    reference_dir = tmp_path / "reference"
    reference = start(write_selection_config(reference_dir, sleeps=False))
    config = write_selection_config(tmp_path / "killed", sleeps=True)
    run = tmp_path / "killed" / "run"

    # 1. Killed during the validation of step 8 (it sleeps 0.6 s in there): the training line of step 8 is written
    # to metrics.jsonl before validating, the validation line to validation.jsonl after.
    first = start(config)
    wait_for_row(run, first, lambda r: r["step"] == 8)
    time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    finish(first)
    validated = [r["step"] for r in metric_rows(run, name="validation.jsonl")]
    assert 4 in validated and 8 not in validated, "not killed mid-validation"
    assert (run / "run.lock").exists()  # the dead process could not release it

    # 2. Resumed (from step 4, the last whole checkpoint), then killed right after the validation of step 12,
    # while training steps 13-16.
    lines_before = len(metric_rows(run, name="validation.jsonl"))
    second = start(config)
    wait_for_row(run, second, lambda r: r["step"] == 12, skip=lines_before, name="validation.jsonl")
    second.send_signal(signal.SIGKILL)
    code, log = finish(second)
    assert "taking over a stale lock" in log and "is not running" in log
    resumed = [r["step"] for r in metric_rows(run, lines_before, "validation.jsonl")]
    assert 12 in resumed and 16 not in resumed, "not killed between validations"

    # 3. Resumed to the end.
    code, log = finish(start(config))
    assert code == 0, log
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["resumed_from"] in (8, 12)
    code, log = finish(reference)
    assert code == 0, log
    ours, theirs = selection_outputs(run), selection_outputs(reference_dir / "run")
    assert ours == theirs
    selection = json.loads(ours["selection.json"])
    assert selection["best_step"] in {h["step"] for h in selection["history"]}
    assert not (run / "run.lock").exists()
