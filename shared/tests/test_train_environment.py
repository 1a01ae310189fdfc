"""The run's environment record: the git commit and dirty flag of the working directory."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from hfm.shared.train.environment import git_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(folder, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args]
    return subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True).stdout.strip()


def test_git_commit_names_head_and_a_changed_tree(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # no checkout above tmp_path counts
    assert git_commit(tmp_path) is None  # not a checkout
    _git(tmp_path, "init", "-q")
    assert git_commit(tmp_path) is None  # a checkout without a commit has no HEAD
    (tmp_path / "a.txt").write_text("one\n")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "untracked.txt").write_text("not counted\n")
    assert git_commit(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "a.txt").write_text("two\n")
    assert git_commit(tmp_path) == {"commit": head, "dirty": True}
