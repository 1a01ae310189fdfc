"""Training through `hfm launch` on a real single-node SLURM cluster (`tools/slurm_cluster.sh start`, `nox -s slurm`).

Two jobs of the same deterministic 2-process CPU run of the built-in `toy-regression` task: one runs through; the
other gets USR1 mid-run (`scancel --signal=USR1 --batch`, as SLURM does `signal_seconds` before the time limit),
checkpoints, requeues itself, resumes and must end with final weights byte-for-byte equal to the first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slurm
HFM = str(Path(sys.executable).with_name("hfm"))

STEPS = 40
CONFIG = f"""\
run: {{seed: 0, deterministic: true}}
task: {{name: toy-regression, samples: 128, width: 16, depth: 1, heads: 2}}
train: {{steps: {STEPS}, batch_size: 16, log_every: 5, ckpt_every: 1000, progress: false}}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, slurm) -> Path:
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
def uninterrupted(workdir: Path, slurm) -> Path:
    job_id = launch(workdir, "plain", "run.out_dir=plain")
    fields = slurm.wait_done(workdir, job_id, f"plain-{job_id}.*")
    output = slurm.logs(workdir, f"plain-{job_id}.*")
    assert (fields["JobState"], fields["ExitCode"], fields["Restarts"]) == ("COMPLETED", "0:0", "0"), output
    return workdir / "plain"


def test_two_process_job_trains_to_the_end(uninterrupted: Path) -> None:
    summary = json.loads((uninterrupted / "summary.json").read_text())
    assert (summary["status"], summary["step"], summary["world_size"]) == ("completed", STEPS, 2)
    losses = [json.loads(line)["loss"] for line in (uninterrupted / "metrics.jsonl").read_text().splitlines()]
    assert len(losses) == STEPS // 5
    assert losses[-1] < 0.8 * losses[0]
    assert (uninterrupted / "final" / "model.safetensors").stat().st_size > 0


def test_signalled_job_checkpoints_requeues_and_ends_bitwise_equal(workdir: Path, uninterrupted: Path, slurm) -> None:
    # The same run, slowed down per step so the signal lands mid-run; the sleep does not touch the numbers.
    job_id = launch(workdir, "resumed", "run.out_dir=resumed", "task.step_sleep_s=0.4")
    seen = wait_for_step(workdir / "resumed", 10)
    assert seen < STEPS
    subprocess.run(["scancel", "--signal=USR1", "--batch", job_id], check=True)
    fields = slurm.wait_done(workdir, job_id, f"resumed-{job_id}.*")
    output = slurm.logs(workdir, f"resumed-{job_id}.*")
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
