"""What a run ran on: package versions, git commit, host, processes, devices; written beside the config."""

from __future__ import annotations

import functools
import platform
import socket
import subprocess
import sys
from importlib.metadata import distributions
from pathlib import Path
from typing import Any

import torch

from hfm.shared.cards import package_versions

KEY_PACKAGES = ("hfm-shared", "torch", "accelerate", "numpy", "safetensors", "tensorboard", "nvidia-ml-py")


def git_commit(cwd: Path | None = None) -> dict[str, Any] | None:
    """HEAD and whether the tree has uncommitted changes, or None outside a git checkout."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head, "dirty": bool(dirty)}


@functools.cache
def _package_versions() -> dict[str, Any]:
    # Reading every distribution's metadata costs about 0.3 s; installed packages do not change within a process.
    hfm_packages = sorted({d.metadata["Name"] for d in distributions() if d.metadata["Name"].startswith("hfm-")})
    return package_versions(*KEY_PACKAGES, *hfm_packages)


def describe_environment(world_size: int, num_machines: int = 1, device: str = "cpu") -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "packages": dict(_package_versions()),
        "git": git_commit(Path.cwd()),
        "world_size": world_size,
        "num_machines": num_machines,
        "device": device,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        "torch_threads": torch.get_num_threads(),
        "command": sys.argv,
    }
