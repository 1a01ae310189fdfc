"""SLURM array jobs for sharded curation: one array task per part of the shards, then one dependent merge job.

`hfm launch --site S --array N -- hfm <domain> curate RAW OUT ...` submits two scripts rendered here. Each array task
runs the command as it is; the curation driver reads `SLURM_ARRAY_TASK_ID` / `SLURM_ARRAY_TASK_COUNT` and curates
the shards `index % N == task` (`hfm.shared.shard_curation.ShardPart`). The merge job (`afterok` on the whole array)
runs the same command outside the array: every shard is found finished, so it only merges, writes the card and
swaps the dataset in; a shard a failed task left unfinished would be curated there. No scheduler of our own.

Curation is CPU and file work: the tasks ask for no GPU unless `--gpus-per-node` says so, and run one process
each (its shard workers are forked inside the task, one per CPU it was given).
"""

from __future__ import annotations

import shlex

from hfm.shared.errors import HFMError
from hfm.shared.launch.profiles import SiteProfile
from hfm.shared.launch.render import LaunchRequest, _arch_guard, _environment, _validate, job_name

MAX_ARRAY_TASKS = 10000  # SLURM's default MaxArraySize is 1001; sites raise it, sbatch refuses what is too large


def _python_command(command: list[str]) -> str:
    if not command or command[0] != "hfm":
        raise HFMError("--array: expected an `hfm <domain> curate ...` command after `--`")
    if "curate" not in command[1:3]:
        raise HFMError(f"--array: only curation runs as an array of shard parts, got `{' '.join(command[:3])}`")
    return " ".join(["python", "-m", "hfm.shared.cli.main", *map(shlex.quote, command[1:])])


def _script(site: SiteProfile, request: LaunchRequest, name: str, directives: list[str], body: list[str]) -> str:
    _validate(site, request)
    if site.scheduler != "slurm":
        raise HFMError(f"--array: site {site.name!r} has no SLURM scheduler; arrays need a SLURM site")
    account = request.account
    if site.account_required and not account:
        hint = f" or set ${site.account_env}" if site.account_env else ""
        raise HFMError(f"--account: site {site.name!r} charges every job to a budget; pass --account{hint}")
    head = [f"--job-name={name}", "--nodes=1", "--ntasks=1"]
    partition = request.partition or site.partition
    if partition:
        head.append(f"--partition={partition}")
    if account:
        head.append(f"--account={account}")
    gpus = request.gpus_per_node or 0
    if gpus and site.gpu_request == "gres":
        head.append(f"--gres=gpu:{gpus}")
    elif gpus and site.gpu_request == "gpus-per-node":
        head.append(f"--gpus-per-node={gpus}")
    if site.cpus_per_task:
        head.append(f"--cpus-per-task={site.cpus_per_task}")
    head += [f"--time={request.time or site.default_time}", *directives, *site.sbatch_extra, *request.sbatch_extra]
    lines = ["#!/bin/bash", f"# hfm launch --site {site.name} --array: rendered by hfm.shared.launch.array."]
    lines += [f"#SBATCH {d}" for d in head]
    lines += ["", *_arch_guard(site), *_environment(site, request), ""]
    return "\n".join([*lines, *body]) + "\n"


def render_array(site: SiteProfile, request: LaunchRequest, tasks: int) -> str:
    """The array job: task i curates the shards whose index % tasks == i."""
    if not 1 <= tasks <= MAX_ARRAY_TASKS:
        raise HFMError(f"--array: between 1 and {MAX_ARRAY_TASKS} tasks, got {tasks}")
    command = _python_command(request.command)
    body = [
        'echo "hfm: array task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT (job $SLURM_ARRAY_JOB_ID)"',
        f"exec {command}",
    ]
    output = ["--output=%x-%A_%a.out", "--error=%x-%A_%a.err"]
    return _script(site, request, f"{job_name(request)}-part", [f"--array=0-{tasks - 1}", *output], body)


def render_merge(site: SiteProfile, request: LaunchRequest, after_job: str) -> str:
    """The merge job: starts when every task of array `after_job` succeeded; runs the command outside the array."""
    command = _python_command(request.command)
    body = [
        "# Outside the array the driver curates every shard that is not finished (none, normally) and merges.",
        "unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT SLURM_ARRAY_TASK_MIN",
        f"exec {command}",
    ]
    directives = [f"--dependency=afterok:{after_job}", "--kill-on-invalid-dep=yes", "--output=%x-%j.out"]
    return _script(site, request, f"{job_name(request)}-merge", [*directives, "--error=%x-%j.err"], body)
