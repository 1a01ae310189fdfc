"""One run per run folder: a lock file naming the process that uses it.

    run.lock   {"pid": 4242, "host": "node17", "started": "2026-12-01T23:10:00Z", "slurm_job_id": "81", ...}

The main process creates it atomically (see `RunLock.acquire`) before it writes anything into the folder, and
removes it when the run ends, also after SIGTERM/SIGUSR1 (exit 75), so a SLURM requeue finds the folder free. A second
`hfm train` into the folder is refused in one line naming the holder.

A lock left by a process that cannot hold it any more is stale and taken over with a warning:
- the same host and the PID is dead, or alive but started at another time (the PID was reused);
- the same SLURM job id (SLURM runs one instance of a job: a requeued job after its node died).
A lock from another host that is not the same SLURM job cannot be checked from here and is never broken: delete
the file by hand once you know that run is gone. The lock is written whole under a private name and hard-linked to
`run.lock`, so no reader ever sees it half-written.
"""

from __future__ import annotations

import json
import os
import socket
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hfm.shared.errors import HFMError

LOCK_FILE = "run.lock"


class StaleLockWarning(UserWarning):
    """A run folder's lock was left by a process that is gone; it was taken over."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot, /proc/PID/stat field 22); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.rsplit(")", 1)[1].split()[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def describe_holder() -> dict[str, Any]:
    """What this process writes into a lock file."""
    holder: dict[str, Any] = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "process_start": _process_start(os.getpid()),
    }
    if os.environ.get("SLURM_JOB_ID"):
        holder["slurm_job_id"] = os.environ["SLURM_JOB_ID"]
    return holder


def stale_reason(holder: dict[str, Any]) -> str | None:
    """Why a lock's holder cannot hold it any more, or None when it may still be running."""
    pid, host = holder.get("pid"), holder.get("host")
    job = os.environ.get("SLURM_JOB_ID")
    if job and holder.get("slurm_job_id") == job:
        return f"it belongs to this SLURM job ({job}), which is running again"
    if host != socket.gethostname() or type(pid) is not int:
        return None
    if not _alive(pid):
        return f"process {pid} on {host} is not running"
    started = holder.get("process_start")
    if started is not None and _process_start(pid) not in (None, started):
        return f"process {pid} on {host} is another process than the one that took the lock (PID reused)"
    return None


class RunLock:
    """`with RunLock(run_dir):` holds the folder's lock for the block; acquire() raises HFMError when it is held."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self.held = False
        self._content = b""

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._content = (json.dumps(describe_holder(), sort_keys=True) + "\n").encode()
        # Written whole under a private name, then hard-linked to the lock's name: link() fails when the name exists,
        # so the lock appears atomically and never half-written (the classic NFS-safe lock).
        private = self.path.with_name(f".{LOCK_FILE}.{socket.gethostname()}.{os.getpid()}")
        private.write_bytes(self._content)
        try:
            for _ in range(3):  # a lock removed or broken between our attempts: try again
                try:
                    os.link(private, self.path)
                except FileExistsError:
                    self._break_if_stale()
                    continue
                self.held = True
                return
        finally:
            private.unlink(missing_ok=True)
        raise HFMError(f"{self.path}: could not take the run folder's lock (it keeps changing); try again")

    def _break_if_stale(self) -> None:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as error:
            raise HFMError(
                f"{self.path}: run folder lock unreadable ({error}); remove it if no run uses the folder"
            ) from None
        try:
            holder = json.loads(text)
        except ValueError:
            holder = None
        if not isinstance(holder, dict):  # locks appear whole (see acquire), so this file is not one of ours
            raise HFMError(f"{self.path}: not a run lock; remove it if no run uses the folder")
        reason = stale_reason(holder)
        if reason is None:
            raise HFMError(
                f"{self.path.parent}: in use by PID {holder.get('pid')} on host {holder.get('host')} "
                f"since {holder.get('started')}; wait for that run or use another run.out_dir"
            )
        warnings.warn(f"{self.path}: taking over a stale lock ({reason})", StaleLockWarning, 3)
        self.path.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock if it is still ours (a process that broke a stale lock owns the new file)."""
        if not self.held:
            return
        self.held = False
        try:
            if self.path.read_bytes() == self._content:
                self.path.unlink()
        except FileNotFoundError:
            pass

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
