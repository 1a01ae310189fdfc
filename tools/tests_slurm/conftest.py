"""What the SLURM tests share (the `slurm` fixture): the cluster check, job state and logs.

Start the cluster first: `sudo tools/slurm_cluster.sh start`, or run `nox -s slurm`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


class SlurmJobs:
    hfm = str(Path(sys.executable).with_name("hfm"))  # the hfm of the test's environment

    @staticmethod
    def require_cluster() -> None:
        """Skip without a cluster, or fail when `nox -s slurm` (HFM_SLURM_REQUIRED=1) expects one."""
        state = (
            subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
            if shutil.which("sinfo")
            else None
        )
        if state is None or state.returncode != 0 or not state.stdout.strip():
            reason = "no SLURM cluster answers sinfo; start one with `sudo tools/slurm_cluster.sh start`"
            if os.environ.get("HFM_SLURM_REQUIRED") == "1":
                pytest.fail(reason)
            pytest.skip(reason)

    @staticmethod
    def job_fields(job_id: str) -> dict[str, str]:
        out = subprocess.run(
            ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True
        ).stdout
        return dict(item.split("=", 1) for item in out.split() if "=" in item)

    @staticmethod
    def logs(workdir: Path, pattern: str) -> str:
        """The text of the logs named by `pattern` (a glob: `name-123.*`, `name-123_*.*`)."""
        return "\n".join(f"== {p.name}\n{p.read_text()}" for p in sorted(workdir.glob(pattern)))

    def wait_done(self, workdir: Path, job_id: str, log_pattern: str, timeout_s: float = 150) -> dict[str, str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            fields = self.job_fields(job_id)
            if fields["JobState"] in FINAL_STATES:
                return fields
            time.sleep(1)
        subprocess.run(["scancel", job_id], check=False)
        pytest.fail(
            f"job {job_id} not done after {timeout_s} s ({fields['JobState']}):\n{self.logs(workdir, log_pattern)}"
        )


@pytest.fixture(scope="module")
def slurm() -> SlurmJobs:
    """The cluster's helpers; skips (or fails under HFM_SLURM_REQUIRED=1) without a running cluster."""
    SlurmJobs.require_cluster()
    return SlurmJobs()
