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
    """HEAD and whether the tree has uncommitted changes, or None outside a git checkout. The two git commands run
    side by side: each is mostly process start-up, and they were a fifth of a short run's fixed cost one after the
    other."""
    commands = (["git", "rev-parse", "HEAD"], ["git", "status", "--porcelain", "--untracked-files=no"])
    processes: list[subprocess.Popen[str]] = []
    try:
        for command in commands:
            processes.append(
                subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            )
        outputs = [process.communicate(timeout=10)[0].strip() for process in processes]
    except (OSError, subprocess.SubprocessError):
        for process in processes:
            process.kill()
            process.wait()
        return None
    if processes[0].returncode != 0:  # not a checkout (or no git): as rev-parse's check=True had it
        return None
    return {"commit": outputs[0], "dirty": bool(outputs[1])}


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
