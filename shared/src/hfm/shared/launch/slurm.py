"""Talk to SLURM through its commands: submit a rendered script, list the user's jobs."""

from __future__ import annotations

import getpass
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hfm.shared.errors import HFMError

# squeue/sacct fields, in the order of `Job`'s fields.
_SQUEUE_FORMAT = "%i|%j|%T|%M|%l|%D|%R"
_SACCT_FIELDS = "JobID,JobName,State,Elapsed,Timelimit,NNodes,ExitCode"


@dataclass(frozen=True)
class Job:
    job_id: str
    name: str
    state: str
    elapsed: str
    time_limit: str
    nodes: str
    detail: str  # squeue: nodes or pending reason; sacct: exit code


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise HFMError(f"{name}: not found on PATH; run this on a SLURM login node (or use --dry-run)")
    return path


def _run(args: list[str], stdin: str | None = None) -> str:
    result = subprocess.run(args, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()
        raise HFMError(
            f"{Path(args[0]).name} failed (exit {result.returncode}): {reason[-1] if reason else 'no output'}"
        )
    return result.stdout


def submit(script: str, workdir: Path | None = None) -> str:
    """Submit SCRIPT with sbatch (from WORKDIR, where the logs go) and return the job id."""
    args = [_tool("sbatch"), "--parsable"]
    if workdir is not None:
        args.append(f"--chdir={workdir}")
    out = _run(args, stdin=script).strip()
    # --parsable prints "jobid" or "jobid;cluster".
    job_id = out.split(";")[0]
    if not job_id.isdigit():
        raise HFMError(f"sbatch: unexpected answer {out!r}, expected a job id")
    return job_id


def _parse(text: str, width: int) -> list[Job]:
    jobs = []
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= width:
            jobs.append(Job(*parts[:width]))
    return jobs


def queued_jobs(user: str | None = None) -> list[Job]:
    """Pending and running jobs of USER (default: the current user) from squeue."""
    out = _run([_tool("squeue"), "--noheader", "--user", user or getpass.getuser(), "--format", _SQUEUE_FORMAT])
    return _parse(out, 7)


def past_jobs(user: str | None = None, since: str = "now-7days") -> list[Job]:
    """Jobs of USER since SINCE from sacct (needs the cluster's accounting database), job allocations only."""
    out = _run(
        [
            _tool("sacct"),
            "--noheader",
            "--parsable2",
            "--allocations",
            "--user",
            user or getpass.getuser(),
            "--starttime",
            since,
            "--format",
            _SACCT_FIELDS,
        ]
    )
    return _parse(out, 7)
