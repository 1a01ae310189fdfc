"""The kill-and-resume check every sharded curate must pass: SIGKILL at random moments, restart, same bytes.

`check_kill_and_resume` runs a curation (Python source that curates into the folder given as `sys.argv[1]`) once
uninterrupted, then again into another folder, killing it (its whole process group: the parent and its workers)
with SIGKILL at seeded random moments of the uninterrupted run's duration and restarting it each time, and finally
lets it finish. After every kill nothing half-written may pass for a dataset; at the end every file must equal the
uninterrupted run's, byte for byte. It returns the problems found (empty: passed), as the conformance checks do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from hfm.shared.cards import load_card
from hfm.shared.errors import HFMError
from hfm.shared.safety.staging import DatasetReplacement


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def tree_differences(expected: Path, got: Path) -> list[str]:
    """The files (relative names) whose bytes differ between two folders or that only one of them holds."""
    want, have = tree_bytes(expected), tree_bytes(got)
    return sorted(name for name in want.keys() | have.keys() if want.get(name) != have.get(name))


def _start(code: str, out_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HFM_NO_PROGRESS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code, str(out_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the kill reaches the forked workers too
    )


def _finish(process: subprocess.Popen[bytes], timeout_s: float) -> str | None:
    """None when the run succeeded, else what it printed."""
    output, _ = process.communicate(timeout=timeout_s)
    return None if process.returncode == 0 else output.decode(errors="replace")[-2000:]


def _half_written_problems(out_dir: Path) -> list[str]:
    """After a kill: the target is absent or a complete dataset; the staging folder is refused as incomplete."""
    problems = []
    if out_dir.exists():
        try:
            load_card(out_dir)
        except HFMError as error:
            problems.append(f"{out_dir} exists after a kill but is not a complete dataset: {error}")
    staging = DatasetReplacement(out_dir).staging
    if staging.exists():
        try:
            load_card(staging)
            problems.append(f"{staging}: a half-written dataset was accepted")
        except HFMError as error:
            if "incomplete" not in str(error) and "no dataset card" not in str(error):
                problems.append(f"{staging}: refused for the wrong reason: {error}")
    return problems


def check_kill_and_resume(
    code: str, out_dir: Path, reference_dir: Path, *, kills: int = 4, seed: int = 0, timeout_s: float = 300
) -> list[str]:
    started = time.monotonic()
    failed = _finish(_start(code, reference_dir), timeout_s)
    if failed:
        return [f"the uninterrupted run failed: {failed}"]
    duration = time.monotonic() - started
    rng = np.random.default_rng(seed)
    problems: list[str] = []
    for moment in sorted(rng.uniform(0.05, 0.95, size=kills) * duration):
        process = _start(code, out_dir)
        try:
            process.wait(timeout=moment)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        problems += _half_written_problems(out_dir)
    failed = _finish(_start(code, out_dir), timeout_s)
    if failed:
        return [*problems, f"the resumed run failed: {failed}"]
    differing = tree_differences(reference_dir, out_dir)
    if differing:
        problems.append(f"{len(differing)} file(s) differ from the uninterrupted run: {differing[:5]}")
    return problems
