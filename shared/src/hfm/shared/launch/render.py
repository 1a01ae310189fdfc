"""Render a site profile and a command into one job script.

SLURM sites get an sbatch script: one launcher task per node through `srun`, each running `accelerate launch` with
its own `--machine_rank` (the node's `$SLURM_NODEID`, evaluated on that node), the head node's address on the fast
interconnect and a port derived from the job id. SLURM sends USR1 to the batch shell `signal_seconds` before the time
limit; the script forwards it to the step, the trainer checkpoints and exits with `EXIT_REQUEUE`, and the script
requeues the job, which resumes from the run folder.

The `local` scheduler gets a plain bash script that runs the same launcher here and restarts on `EXIT_REQUEUE`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field

from hfm.shared.errors import HFMError
from hfm.shared.exitcodes import EXIT_REQUEUE
from hfm.shared.launch.profiles import SiteProfile

_TIME = re.compile(r"^(?:(\d+)-)?(\d{1,3}):(\d{2}):(\d{2})$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class LaunchRequest:
    """What the user asked for; fields left None take the profile's values."""

    command: list[str]
    nodes: int = 1
    gpus_per_node: int | None = None
    processes_per_node: int | None = None
    time: str | None = None
    account: str | None = None
    partition: str | None = None
    job_name: str | None = None
    venv: str | None = None
    sbatch_extra: list[str] = field(default_factory=list)


def _seconds(time: str) -> int:
    match = _TIME.match(time)
    if not match:
        raise HFMError(f"--time: {time!r} is not [D-]HH:MM:SS")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def hfm_module_command(command: list[str]) -> list[str]:
    """The arguments after `accelerate launch`: `hfm train x.yaml` runs as `-m hfm.shared.cli.main train x.yaml`."""
    if not command:
        raise HFMError("no command to launch: give it after `--`, e.g. `hfm launch --site local -- hfm train run.yaml`")
    if command[0] == "hfm":
        return ["-m", "hfm.shared.cli.main", *command[1:]]
    if command[0].endswith(".py"):
        return command
    raise HFMError(f"command {command[0]!r}: expected an `hfm ...` command or a Python script")


def _accelerate(machines: str, processes: int, machine_rank: str, ip: str, port: str) -> list[str]:
    # `--multi_gpu` selects accelerate's torchrun launcher, which also runs several CPU processes (gloo backend).
    args = ["accelerate", "launch"]
    if processes > 1:
        args.append("--multi_gpu")
    args += [
        "--num_machines",
        machines,
        "--machine_rank",
        machine_rank,
        "--main_process_ip",
        ip,
        "--main_process_port",
        port,
        "--num_processes",
        str(processes),
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    ]
    return args


def _validate(site: SiteProfile, request: LaunchRequest) -> None:
    if request.nodes < 1:
        raise HFMError(f"--nodes: must be at least 1, got {request.nodes}")
    if site.max_nodes is not None and request.nodes > site.max_nodes:
        raise HFMError(f"--nodes: site {site.name!r} has at most {site.max_nodes} node(s), got {request.nodes}")
    if request.gpus_per_node is not None and request.gpus_per_node < 0:
        raise HFMError(f"--gpus-per-node: must not be negative, got {request.gpus_per_node}")
    time = request.time or site.default_time
    if site.max_time is not None and _seconds(time) > _seconds(site.max_time):
        raise HFMError(f"--time: {time} exceeds the limit {site.max_time} of site {site.name!r}")
    if _seconds(time) <= site.signal_seconds:
        raise HFMError(f"--time: {time} leaves no time before the checkpoint signal ({site.signal_seconds} s)")
    for name in site.env:
        if not _ENV_NAME.match(name):
            raise HFMError(f"site {site.name!r}: field 'env': {name!r} is not a valid variable name")


def job_name(request: LaunchRequest) -> str:
    """The name asked for, else `hfm-<subcommand>` (`hfm-train`): it names the logs, `<name>-<jobid>.out`."""
    if request.job_name:
        return request.job_name
    words = [w for w in request.command[1:] if not w.startswith("-")][:1] if request.command else []
    return "-".join(["hfm", *words]) if request.command and request.command[0] == "hfm" else "hfm-job"


def _environment(site: SiteProfile, request: LaunchRequest) -> list[str]:
    lines = [*site.setup]
    if request.venv:
        lines.append(f"source {shlex.quote(request.venv.rstrip('/') + '/bin/activate')}")
    lines += [f"export {name}={shlex.quote(value)}" for name, value in site.env.items()]
    return lines


def _arch_guard(site: SiteProfile) -> list[str]:
    if site.arch is None:
        return []
    return [
        f'if [ "$(uname -m)" != {site.arch} ]; then',
        f'    echo "hfm: site {site.name} expects {site.arch} nodes, this one is $(uname -m)" >&2',
        "    exit 1",
        "fi",
    ]


def render_sbatch(site: SiteProfile, request: LaunchRequest) -> str:
    """The sbatch script for REQUEST on SITE, as text."""
    if site.scheduler != "slurm":
        raise HFMError(f"site {site.name!r} has no SLURM scheduler; use render_script")
    _validate(site, request)
    gpus = site.gpus_per_node if request.gpus_per_node is None else request.gpus_per_node
    per_node = request.processes_per_node or site.processes_on_node(gpus)
    total = per_node * request.nodes
    account = request.account
    if site.account_required and not account:
        hint = f" or set ${site.account_env}" if site.account_env else ""
        raise HFMError(f"--account: site {site.name!r} charges every job to a budget; pass --account{hint}")
    partition = request.partition or site.partition
    time = request.time or site.default_time

    directives = [f"--job-name={job_name(request)}"]
    if partition:
        directives.append(f"--partition={partition}")
    if account:
        directives.append(f"--account={account}")
    directives += [f"--nodes={request.nodes}", "--ntasks-per-node=1"]
    if gpus > 0 and site.gpu_request == "gres":
        directives.append(f"--gres=gpu:{gpus}")
    elif gpus > 0 and site.gpu_request == "gpus-per-node":
        directives.append(f"--gpus-per-node={gpus}")
    if site.cpus_per_task:
        directives.append(f"--cpus-per-task={site.cpus_per_task}")
    directives += [
        f"--time={time}",
        "--output=%x-%j.out",
        "--error=%x-%j.err",
        "--open-mode=append",
        f"--signal=B:USR1@{site.signal_seconds}",
        "--requeue",
        *site.sbatch_extra,
        *request.sbatch_extra,
    ]

    lines = [
        "#!/bin/bash",
        f"# hfm launch --site {site.name}: rendered by hfm.shared.launch; edit the profile, not this.",
    ]
    lines += [f"#SBATCH {d}" for d in directives]
    lines += ["", *_arch_guard(site)]
    env = _environment(site, request)
    if env:
        lines += ["# Site set-up and offline settings (compute nodes may have no internet).", *env, ""]

    launcher = _accelerate('"$SLURM_NNODES"', total, '"$SLURM_NODEID"', '"$MAIN_PROCESS_IP"', '"$MAIN_PROCESS_PORT"')
    # Single quotes: each node's shell expands $SLURM_NODEID itself. The launcher ignores USR1 (inherited by exec),
    # the trainer processes install their own handler and checkpoint.
    node_command = 'trap "" USR1; exec ' + " ".join([*launcher, *map(shlex.quote, hfm_module_command(request.command))])
    suffix = site.interconnect_suffix
    lines += [
        "# Rendezvous: the first node of the allocation"
        + (f', addressed on the fast interconnect (name + "{suffix}")' if suffix else "")
        + ".",
        f'MAIN_PROCESS_IP="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n1){suffix}"',
        f"MAIN_PROCESS_PORT=$(({site.port_base} + SLURM_JOB_ID % 1000))",
        "export MAIN_PROCESS_IP MAIN_PROCESS_PORT",
        'echo "hfm: job $SLURM_JOB_ID restart ${SLURM_RESTART_COUNT:-0} on $SLURM_JOB_NODELIST,'
        f' head $MAIN_PROCESS_IP:$MAIN_PROCESS_PORT, {total} processes"',
        "",
        "# USR1 before the time limit (or `scancel --signal=USR1 --batch`): pass it on to the training processes.",
        "# Trapped before srun starts, so an early signal cannot end the batch shell.",
        'step=""',
        "signalled=0",
        'trap \'echo "hfm: USR1, asking the trainer to checkpoint"; signalled=1; '
        '[ -n "$step" ] && kill -USR1 "$step"\' USR1',
        "",
        "# One launcher task per node; srun does not inherit --cpus-per-task from sbatch since SLURM 22.05.",
        f"srun --nodes={request.nodes} --ntasks-per-node=1"
        + (f" --cpus-per-task={site.cpus_per_task}" if site.cpus_per_task else "")
        + " --kill-on-bad-exit=1 \\",
        f"    bash -c {shlex.quote(node_command)} &",
        "step=$!",
        'while kill -0 "$step" 2>/dev/null; do wait "$step"; done',
        'wait "$step"',
        "rc=$?",
        "",
        f"# The trainer exits {EXIT_REQUEUE} after a checkpoint; torchrun reports that as a failure, hence the flag.",
        f'if [ "$rc" -eq {EXIT_REQUEUE} ] || {{ [ "$signalled" -eq 1 ] && [ "$rc" -ne 0 ]; }}; then',
        f'    if [ "${{SLURM_RESTART_COUNT:-0}}" -ge {site.max_requeues} ]; then',
        f'        echo "hfm: not requeueing, {site.max_requeues} restarts reached" >&2',
        '        exit "$rc"',
        "    fi",
        '    echo "hfm: requeueing job $SLURM_JOB_ID to resume from its checkpoint"',
        '    scontrol requeue "$SLURM_JOB_ID"',
        "    exit 0",
        "fi",
        'exit "$rc"',
    ]
    return "\n".join(lines) + "\n"


def render_local(site: SiteProfile, request: LaunchRequest) -> str:
    """A bash script that runs REQUEST on this machine and restarts it while it asks for a requeue."""
    _validate(site, request)
    if request.nodes != 1:
        raise HFMError(f"--nodes: site {site.name!r} runs on this machine only, got {request.nodes}")
    gpus = site.gpus_per_node if request.gpus_per_node is None else request.gpus_per_node
    processes = request.processes_per_node or site.processes_on_node(gpus)
    launcher = _accelerate("1", processes, "0", "127.0.0.1", str(site.port_base))
    command = " ".join([*launcher, *map(shlex.quote, hfm_module_command(request.command))])
    lines = ["#!/bin/bash", f"# hfm launch --site {site.name}: rendered by hfm.shared.launch.", ""]
    lines += _arch_guard(site)
    env = _environment(site, request)
    if env:
        lines += [*env, ""]
    lines += [
        "restarts=0",
        "while :; do",
        f"    {command}",
        "    rc=$?",
        f'    if [ "$rc" -ne {EXIT_REQUEUE} ] || [ "$restarts" -ge {site.max_requeues} ]; then exit "$rc"; fi',
        "    restarts=$((restarts + 1))",
        '    echo "hfm: resuming from the checkpoint (restart $restarts)"',
        "done",
    ]
    return "\n".join(lines) + "\n"


def resolve_account(site: SiteProfile, account: str | None, environ: Mapping[str, str]) -> str | None:
    """The --account option, else the profile's account variable (JSC: BUDGET_ACCOUNTS from `jutil env activate`)."""
    if account:
        return account
    if site.account_env and environ.get(site.account_env):
        return environ[site.account_env]
    return None


def render_script(site: SiteProfile, request: LaunchRequest) -> str:
    return render_sbatch(site, request) if site.scheduler == "slurm" else render_local(site, request)
