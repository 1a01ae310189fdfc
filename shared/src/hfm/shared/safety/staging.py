"""Atomic dataset replacement: a new curation is written beside the old one and swapped in only when complete.

`DATASET` stays what it was (the previous dataset, or nothing) until the new one is finished in
`.DATASET.hfm-new`; then the old one moves to `.DATASET.hfm-old`, the new one takes its name and the old one is
deleted. A kill at any point leaves either the old or the new dataset under `DATASET`, and the next run (under the
folder lock) recovers or removes the leftovers, so a killed or failed curation never blocks the re-run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DatasetReplacement:
    """Call under the folder's lock: `begin()` gives the staging folder, `commit()` swaps it in, `abort()` drops it."""

    def __init__(self, target: str | Path) -> None:
        self.target = Path(target).absolute()
        self.staging = self.target.parent / f".{self.target.name}.hfm-new"
        self.retired = self.target.parent / f".{self.target.name}.hfm-old"

    def _restore_retired(self) -> None:
        """An old dataset a killed swap moved aside comes back (or goes, when the new one is already in place)."""
        if self.retired.exists():
            if self.target.exists():
                shutil.rmtree(self.retired)
            else:
                os.replace(self.retired, self.target)

    def recover(self) -> None:
        """Undo what a killed run left: an old dataset moved aside comes back; half-written new ones go."""
        self._restore_retired()
        if self.staging.exists():
            shutil.rmtree(self.staging)

    def resume(self) -> Path:
        """Like `begin`, but a staging folder left by a killed run is kept: a sharded curation continues in it."""
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self._restore_retired()
        self.staging.mkdir(exist_ok=True)
        return self.staging

    def begin(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.recover()
        self.staging.mkdir()
        return self.staging

    def commit(self) -> None:
        if self.target.exists():
            os.replace(self.target, self.retired)
        os.replace(self.staging, self.target)
        _fsync_folder(self.target.parent)
        shutil.rmtree(self.retired, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
