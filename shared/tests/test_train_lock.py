"""One run per run folder: run.lock names its holder; a second run is refused in one line, a stale lock is taken over
(dead PID on this host, reused PID, the same SLURM job), a lock from elsewhere is never broken."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from hfm.shared.cli.main import run as hfm_main
from hfm.shared.errors import HFMError
from hfm.shared.train.lock import LOCK_FILE, RunLock, StaleLockWarning, describe_holder


def write_lock(folder, **holder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_FILE).write_text(json.dumps({**describe_holder(), **holder}))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_lock_is_taken_refused_while_held_and_released(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with RunLock(tmp_path) as lock:
        holder = json.loads((tmp_path / LOCK_FILE).read_text())
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        with pytest.raises(HFMError, match=rf"in use by PID {os.getpid()} on host {socket.gethostname()} since"):
            RunLock(tmp_path).acquire()
        assert lock.held
    assert not (tmp_path / LOCK_FILE).exists()
    assert not list(tmp_path.iterdir())  # no private temporary file left behind


@pytest.mark.parametrize("case", ["dead-pid", "reused-pid", "same-slurm-job"])
def test_stale_locks_are_taken_over_with_a_warning(tmp_path, monkeypatch, case):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    if case == "dead-pid":
        write_lock(tmp_path, pid=dead_pid())
        reason = "is not running"
    elif case == "reused-pid":  # our own live PID, but the lock was taken by a process started at another time
        write_lock(tmp_path, process_start="1")
        reason = "PID reused"
    else:  # a requeued SLURM job on another node: the old node's PID cannot be checked, the job id can
        monkeypatch.setenv("SLURM_JOB_ID", "4711")
        write_lock(tmp_path, pid=1, host="another-node", slurm_job_id="4711")
        reason = "belongs to this SLURM job"
    with pytest.warns(StaleLockWarning, match=reason), RunLock(tmp_path):
        assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK_FILE).exists()


def test_locks_that_cannot_be_checked_are_never_broken(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    write_lock(tmp_path, pid=dead_pid(), host="another-node", slurm_job_id="12")
    with pytest.raises(HFMError, match=r"in use by PID \d+ on host another-node"):
        RunLock(tmp_path).acquire()
    (tmp_path / LOCK_FILE).write_text("[]")
    with pytest.raises(HFMError, match="not a run lock; remove it if no run uses the folder"):
        RunLock(tmp_path).acquire()
    assert (tmp_path / LOCK_FILE).read_text() == "[]"  # left as it was


def test_a_second_hfm_train_into_a_busy_folder_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        write_lock(tmp_path / "run", pid=holder.pid, process_start=None)
        config = tmp_path / "run.yaml"
        config.write_text(f"run: {{out_dir: {tmp_path / 'run'}}}\ntrain: {{steps: 2, batch_size: 8}}\n")
        with pytest.raises(SystemExit) as stopped:
            hfm_main(["train", str(config)])
        assert stopped.value.code != 0
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and f"in use by PID {holder.pid} on host {socket.gethostname()}" in lines[0]
        assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [LOCK_FILE]  # nothing written
    finally:
        holder.kill()
        holder.wait()
