"""Training through `hfm launch` on a real single-node SLURM cluster (`tools/slurm_cluster.sh start`, `nox -s slurm`).

Two jobs of the same deterministic 2-process CPU run of the built-in `toy-regression` task: one runs through; the
other gets USR1 mid-run (`scancel --signal=USR1 --batch`, as SLURM does `signal_seconds` before the time limit),
checkpoints, requeues itself, resumes and must end with final weights byte-for-byte equal to the first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm

STEPS = 40
CONFIG = f"""\
run: {{seed: 0, deterministic: true}}
task: {{name: toy-regression, samples: 128, width: 16, depth: 1, heads: 2}}
train: {{steps: {STEPS}, batch_size: 16, log_every: 5, ckpt_every: 1000, progress: false}}
"""
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
HFM = str(Path(sys.executable).with_name("hfm"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    required = os.environ.get("HFM_SLURM_REQUIRED") == "1"
    state = (
        subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True) if shutil.which("sinfo") else None
    )
    if state is None or state.returncode != 0 or not state.stdout.strip():
        reason = "no SLURM cluster answers sinfo; start one with `sudo tools/slurm_cluster.sh start`"
        if required:
            pytest.fail(reason)
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("slurm-jobs")
    (folder / "run.yaml").write_text(CONFIG)
    return folder


def launch(workdir: Path, name: str, *overrides: str) -> str:
    """Submit `hfm train` through `hfm launch --site local-slurm`, as a user types it; returns the job id."""
    sets = [arg for item in overrides for arg in ("--set", item)]
    command = [HFM, "launch", "--site", "local-slurm", "--job-name", name, "--", "hfm", "train", "run.yaml", *sets]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.strip().splitlines()[-1]
    assert job_id.isdigit(), result.stdout
    return job_id


def job_fields(job_id: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True).stdout
    return dict(item.split("=", 1) for item in out.split() if "=" in item)


def logs(workdir: Path, name: str, job_id: str) -> str:
    return "\n".join(
        p.read_text() for p in (workdir / f"{name}-{job_id}.out", workdir / f"{name}-{job_id}.err") if p.exists()
    )


def wait_done(workdir: Path, name: str, job_id: str, timeout_s: float = 150) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        fields = job_fields(job_id)
        if fields["JobState"] in FINAL_STATES:
            return fields
        time.sleep(1)
    subprocess.run(["scancel", job_id], check=False)
    pytest.fail(f"job {job_id} not done after {timeout_s} s ({fields['JobState']}):\n{logs(workdir, name, job_id)}")


def wait_for_step(run_dir: Path, step: int, timeout_s: float = 90) -> int:
    """Block until the run has logged STEP or later; returns the step seen."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        metrics = run_dir / "metrics.jsonl"
        if metrics.exists():
            steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines() if line.strip()]
            if steps and max(steps) >= step:
                return max(steps)
        time.sleep(0.2)
    pytest.fail(f"{run_dir} did not reach step {step} in {timeout_s} s")


@pytest.fixture(scope="module")
def uninterrupted(workdir: Path) -> Path:
    job_id = launch(workdir, "plain", "run.out_dir=plain")
    fields = wait_done(workdir, "plain", job_id)
    output = logs(workdir, "plain", job_id)
    assert (fields["JobState"], fields["ExitCode"], fields["Restarts"]) == ("COMPLETED", "0:0", "0"), output
    return workdir / "plain"


def test_two_process_job_trains_to_the_end(uninterrupted: Path) -> None:
    summary = json.loads((uninterrupted / "summary.json").read_text())
    assert (summary["status"], summary["step"], summary["world_size"]) == ("completed", STEPS, 2)
    losses = [json.loads(line)["loss"] for line in (uninterrupted / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == STEPS // 5
    assert losses[-1] < 0.8 * losses[0]
    assert (uninterrupted / "final" / "model.safetensors").stat().st_size > 0


def test_signalled_job_checkpoints_requeues_and_ends_bitwise_equal(workdir: Path, uninterrupted: Path) -> None:
    # The same run, slowed down per step so the signal lands mid-run; the sleep does not touch the numbers.
    job_id = launch(workdir, "resumed", "run.out_dir=resumed", "task.step_sleep_s=0.4")
    seen = wait_for_step(workdir / "resumed", 10)
    assert seen < STEPS
    subprocess.run(["scancel", "--signal=USR1", "--batch", job_id], check=True)
    fields = wait_done(workdir, "resumed", job_id)
    output = logs(workdir, "resumed", job_id)
    assert (fields["JobState"], fields["ExitCode"], fields["Restarts"]) == ("COMPLETED", "0:0", "1"), output
    assert "requeueing job" in output and "restart 1 on" in output, output

    run_dir = workdir / "resumed"
    checkpoints = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    preempted_at = int(checkpoints[0].removeprefix("step-"))
    assert seen <= preempted_at < STEPS, checkpoints
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["status"], summary["step"]) == ("completed", STEPS)
    final = (run_dir / "final" / "model.safetensors").read_bytes()
    assert final == (uninterrupted / "final" / "model.safetensors").read_bytes()
