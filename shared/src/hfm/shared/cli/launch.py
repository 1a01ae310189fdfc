"""`hfm launch` renders a site's job script and submits it; `hfm jobs` lists the user's SLURM jobs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import typer
from rich.table import Table

from hfm.shared.errors import HFMError
from hfm.shared.launch import LaunchRequest, SiteProfile, list_sites, load_site, render_script, resolve_account
from hfm.shared.launch.array import render_array, render_merge
from hfm.shared.launch.render import job_name as default_job_name
from hfm.shared.launch.slurm import past_jobs, queued_jobs, submit
from hfm.shared.progress import console


def _absolute(path: str | None) -> str | None:
    # The job starts in another shell, maybe on another node: a relative or ~ path would not find the venv there.
    return str(Path(path).expanduser().absolute()) if path else None


def launch(
    command: list[str] = typer.Argument(
        None, help="The command to run on every node, after `--`: `-- hfm train run.yaml`."
    ),
    site: str = typer.Option(None, "--site", "-s", help="Site profile (see --list-sites)."),
    nodes: int = typer.Option(1, "--nodes", "-N", help="Number of nodes."),
    gpus_per_node: int = typer.Option(None, "--gpus-per-node", help="GPUs per node (default: the profile's)."),
    processes_per_node: int = typer.Option(
        None, "--processes-per-node", help="Processes per node (default: one per GPU, or the profile's CPU count)."
    ),
    time: str = typer.Option(None, "--time", "-t", help="Time limit [D-]HH:MM:SS (default: the profile's)."),
    account: str = typer.Option(None, "--account", "-A", help="Budget to charge (default: the profile's variable)."),
    partition: str = typer.Option(None, "--partition", "-p", help="Partition (default: the profile's)."),
    job_name: str = typer.Option(None, "--job-name", "-J", help="Job name (default: hfm-<subcommand>)."),
    venv: str = typer.Option(
        None, "--venv", help="Virtual environment the job activates (default: the active one, $VIRTUAL_ENV)."
    ),
    sbatch: list[str] = typer.Option(None, "--sbatch", help="Extra #SBATCH option, repeatable: --sbatch=--qos=normal."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the script instead of submitting or running it."),
    write: Path = typer.Option(None, "--write", help="Also save the script to this file."),
    list_sites_: bool = typer.Option(False, "--list-sites", help="List the site profiles and exit."),
    array: int = typer.Option(
        None, "--array", help="Curation only: N array tasks, each curating its part of the shards, then a merge job."
    ),
) -> None:
    """Run an hfm command on a cluster: render the site's sbatch script and submit it (or run it here for `local`)."""
    if list_sites_ or site is None:
        for name in list_sites():
            profile = load_site(name)
            console.print(f"{name:16} {profile.description}", highlight=False)
        if site is None and not list_sites_:
            raise HFMError("--site: required; pick one of the profiles above")
        return
    profile = load_site(site)
    request = LaunchRequest(
        command=list(command or []),
        nodes=nodes,
        gpus_per_node=gpus_per_node,
        processes_per_node=processes_per_node,
        time=time,
        account=resolve_account(profile, account, os.environ),
        partition=partition,
        job_name=job_name,
        venv=_absolute(venv if venv is not None else os.environ.get("VIRTUAL_ENV")),
        sbatch_extra=list(sbatch or []),
    )
    if array is not None:
        _launch_array(profile, request, array, dry_run=dry_run, write=write)
        return
    script = render_script(profile, request)
    if write is not None:
        write.write_text(script, encoding="utf-8")
    if dry_run:
        typer.echo(script, nl=False)
        return
    if profile.scheduler == "local":
        code = subprocess.run(["bash", "-c", script], check=False).returncode
        raise typer.Exit(code)
    job_id = submit(script, workdir=Path.cwd())
    console.print(f"submitted job {job_id} to {site}; logs: {default_job_name(request)}-{job_id}.out", highlight=False)
    typer.echo(job_id)


def _launch_array(
    profile: SiteProfile, request: LaunchRequest, tasks: int, *, dry_run: bool, write: Path | None
) -> None:
    """Submit the array of curation parts, then the merge job that waits for all of them."""
    script = render_array(profile, request, tasks)
    if write is not None:
        write.write_text(script, encoding="utf-8")
    if dry_run:
        typer.echo(script + "\n" + render_merge(profile, request, "<array job id>"), nl=False)
        return
    array_id = submit(script, workdir=Path.cwd())
    merge = render_merge(profile, request, array_id)
    if write is not None:
        write.with_name(write.name + ".merge").write_text(merge, encoding="utf-8")
    merge_id = submit(merge, workdir=Path.cwd())
    console.print(f"submitted array job {array_id} ({tasks} tasks) and merge job {merge_id}", highlight=False)
    typer.echo(f"{array_id} {merge_id}")


def jobs(
    history: bool = typer.Option(False, "--history", help="Finished jobs too, from sacct (needs accounting)."),
    since: str = typer.Option("now-7days", "--since", help="With --history: the earliest start, in sacct's format."),
    user: str = typer.Option(None, "--user", "-u", help="Whose jobs (default: yours)."),
) -> None:
    """Show your SLURM jobs: pending and running from squeue, with --history also finished ones from sacct."""
    found = past_jobs(user, since) if history else queued_jobs(user)
    table = Table("job", "name", "state", "elapsed", "limit", "nodes", "exit code" if history else "where / why")
    for job in found:
        table.add_row(job.job_id, job.name, job.state, job.elapsed, job.time_limit, job.nodes, job.detail)
    console.print(table)
    if not found:
        console.print("no jobs" + (f" since {since}" if history else " in the queue"))


def register(app: typer.Typer) -> None:
    app.command("launch", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(launch)
    app.command("jobs")(jobs)
