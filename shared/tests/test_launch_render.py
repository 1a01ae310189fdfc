"""Golden files for every shipped site profile, `bash -n` on each, and the rendered logic run with stub commands.

Regenerate the golden files after an intended change: `HFM_UPDATE_GOLDEN=1 pytest shared/tests/test_launch_render.py`.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from importlib import resources
from pathlib import Path

import pytest

from hfm.shared.errors import HFMError
from hfm.shared.exitcodes import EXIT_REQUEUE
from hfm.shared.launch import LaunchRequest, load_site, render_script, resolve_account

GOLDEN = Path(__file__).parent / "golden" / "launch"
SHIPPED = sorted(p.name.removesuffix(".yaml") for p in resources.files("hfm.shared.launch").joinpath("sites").iterdir())
COMMAND = ["hfm", "train", "run.yaml", "--set", "optim.lr=1e-3", "--set", "run.name=demo run"]


@pytest.fixture(autouse=True)
def _no_user_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("HFM_SITES_PATH", raising=False)


def golden_request(site: str) -> LaunchRequest:
    profile = load_site(site)
    slurm = profile.scheduler == "slurm"
    return LaunchRequest(
        command=COMMAND,
        nodes=2 if slurm and profile.max_nodes is None else 1,
        account="hfm-demo" if slurm else None,
        venv="/p/project/hfm/venv",
    )


def test_every_required_site_ships() -> None:
    required = {"local", "juwels-booster", "jureca-dc", "horeka", "jupiter", "generic-slurm"}
    assert required <= set(SHIPPED)


@pytest.mark.parametrize("site", SHIPPED)
def test_rendered_script_matches_golden_file(site: str) -> None:
    script = render_script(load_site(site), golden_request(site))
    golden = GOLDEN / f"{site}.sh"
    if os.environ.get("HFM_UPDATE_GOLDEN"):
        golden.write_text(script, encoding="utf-8")
    assert golden.is_file(), f"no golden file for {site}; run with HFM_UPDATE_GOLDEN=1"
    assert script == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("site", SHIPPED)
def test_rendered_script_is_valid_bash(site: str, tmp_path: Path) -> None:
    path = tmp_path / "job.sh"
    path.write_text(render_script(load_site(site), golden_request(site)), encoding="utf-8")
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_juwels_booster_directives_and_interconnect() -> None:
    script = render_script(load_site("juwels-booster"), golden_request("juwels-booster"))
    directives = [line.removeprefix("#SBATCH ") for line in script.splitlines() if line.startswith("#SBATCH")]
    for expected in (
        "--partition=booster",
        "--account=hfm-demo",
        "--nodes=2",
        "--ntasks-per-node=1",
        "--gres=gpu:4",
        "--cpus-per-task=48",
        "--signal=B:USR1@300",
        "--requeue",
        "--output=%x-%j.out",
    ):
        assert expected in directives
    assert 'head -n1)i"' in script
    assert "--num_processes 8" in script
    assert "export HF_HUB_OFFLINE=1" in script


def test_gpus_per_node_style_and_override() -> None:
    request = golden_request("generic-slurm")
    request.gpus_per_node = 2
    script = render_script(load_site("generic-slurm"), request)
    assert "#SBATCH --gpus-per-node=2" in script
    assert "--gres" not in script
    assert "--num_processes 4" in script


def test_account_is_required_on_jsc_sites_and_read_from_budget_variable() -> None:
    site = load_site("juwels-booster")
    request = golden_request("juwels-booster")
    request.account = None
    with pytest.raises(HFMError, match="BUDGET_ACCOUNTS"):
        render_script(site, request)
    assert resolve_account(site, None, {"BUDGET_ACCOUNTS": "training2400"}) == "training2400"
    assert resolve_account(site, "other", {"BUDGET_ACCOUNTS": "training2400"}) == "other"


def test_time_beyond_site_limit_is_refused() -> None:
    request = golden_request("horeka")
    request.time = "2-01:00:00"
    with pytest.raises(HFMError, match="exceeds the limit 48:00:00"):
        render_script(load_site("horeka"), request)


def test_command_must_be_hfm_or_script() -> None:
    request = golden_request("generic-slurm")
    request.command = ["rm", "-rf", "/"]
    with pytest.raises(HFMError, match=r"expected an `hfm \.\.\.` command"):
        render_script(load_site("generic-slurm"), request)


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/bash\n" + body + "\n", encoding="utf-8")
    path.chmod(0o755)


def _run_with_stubs(tmp_path: Path, script: str, accelerate_exit: str) -> tuple[int, str, list[str]]:
    """Run SCRIPT with stub srun (two nodes), scontrol and accelerate; return exit code, log and launcher calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    # srun starts its command once per node, as SLURM does with --ntasks-per-node=1, each with its own SLURM_NODEID.
    _stub(bin_dir, "srun", 'while [[ "$1" == --* ]]; do shift; done\nfor n in 0 1; do SLURM_NODEID=$n "$@"; done')
    _stub(
        bin_dir,
        "scontrol",
        f'if [ "$1" = show ]; then printf "jwb0001\\njwb0002\\n"; else echo "scontrol $*" >> {log}; fi',
    )
    _stub(bin_dir, "accelerate", f'{{ printf accelerate; printf " %q" "$@"; echo; }} >> {log}\n{accelerate_exit}')
    _stub(bin_dir, "module", "true")
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NODELIST": "jwb[0001-0002]",
        "SLURM_NNODES": "2",
    }
    job = tmp_path / "job.sh"
    job.write_text(script.replace("source /p/project/hfm/venv/bin/activate", "true"), encoding="utf-8")
    result = subprocess.run(["bash", str(job)], env=env, capture_output=True, text=True, timeout=30)
    calls = log.read_text().splitlines() if log.exists() else []
    return result.returncode, result.stdout + result.stderr, calls


def test_each_node_gets_its_own_machine_rank_and_the_head_address(tmp_path: Path) -> None:
    script = render_script(load_site("juwels-booster"), golden_request("juwels-booster")).replace(
        "uname -m", "echo x86_64"
    )
    code, output, calls = _run_with_stubs(tmp_path, script, "exit 0")
    assert code == 0, output
    launches = [shlex.split(c) for c in calls if c.startswith("accelerate")]
    assert len(launches) == 2
    for rank, args in enumerate(launches):
        assert args[args.index("--machine_rank") + 1] == str(rank)
        assert args[args.index("--num_machines") + 1] == "2"
        assert args[args.index("--main_process_ip") + 1] == "jwb0001i"
        assert args[args.index("--main_process_port") + 1] == str(29500 + 4242 % 1000)
        assert args[-6:] == ["train", "run.yaml", "--set", "optim.lr=1e-3", "--set", "run.name=demo run"]
    assert not [c for c in calls if c.startswith("scontrol")]


def test_requeue_exit_code_requeues_the_job(tmp_path: Path) -> None:
    script = render_script(load_site("generic-slurm"), golden_request("generic-slurm"))
    code, output, calls = _run_with_stubs(tmp_path, script, f"exit {EXIT_REQUEUE}")
    assert code == 0, output
    assert "scontrol requeue 4242" in calls
    assert "requeueing job 4242" in output


def test_failure_is_reported_not_requeued(tmp_path: Path) -> None:
    script = render_script(load_site("generic-slurm"), golden_request("generic-slurm"))
    code, output, calls = _run_with_stubs(tmp_path, script, "exit 3")
    assert code == 3, output
    assert not [c for c in calls if c.startswith("scontrol")]


def test_local_script_restarts_while_the_trainer_asks_for_requeue(tmp_path: Path) -> None:
    # The stub launcher asks for a requeue twice, then succeeds: the local script must run it three times.
    counter = tmp_path / "count"
    script = render_script(load_site("local"), LaunchRequest(command=["hfm", "train", "run.yaml"]))
    exit_logic = (
        f'n=$(cat {counter} 2>/dev/null || echo 0); echo $((n + 1)) > {counter}; [ "$n" -ge 2 ] || exit {EXIT_REQUEUE}'
    )
    code, output, calls = _run_with_stubs(tmp_path, script, exit_logic)
    assert code == 0, output
    assert len([c for c in calls if c.startswith("accelerate")]) == 3
    assert output.count("resuming from the checkpoint") == 2


def test_docs_show_the_script_juwels_booster_renders_today() -> None:
    docs = Path(__file__).parents[2] / "docs" / "hpc.md"
    request = LaunchRequest(
        command=["hfm", "train", "pretrain.yaml", "--set", "run.out_dir=runs/mae-juwels"],
        nodes=2,
        time="06:00:00",
        account="hfm-demo",
        venv="/p/project1/hfm-demo/hfm/.venv",
    )
    assert render_script(load_site("juwels-booster"), request) in docs.read_text(encoding="utf-8")


def test_usr1_is_forwarded_to_the_step_and_a_failed_step_then_requeues(tmp_path: Path) -> None:
    # torchrun turns the trainer's exit 75 into 1: after a forwarded USR1, any failure of the step means "requeue".
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    _stub(
        bin_dir,
        "srun",
        f"trap 'echo forwarded >> {log}; exit 1' USR1\necho started >> {log}\nsleep 20 >/dev/null 2>&1 &\nwait $!",
    )
    _stub(bin_dir, "scontrol", f'if [ "$1" = show ]; then echo node1; else echo "scontrol $*" >> {log}; fi')
    job = tmp_path / "job.sh"
    job.write_text(render_script(load_site("local-slurm"), golden_request("local-slurm")).replace("source ", "true "))
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SLURM_JOB_ID": "4242", "SLURM_JOB_NODELIST": "node1"}
    batch = subprocess.Popen(["bash", str(job)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for _ in range(100):
        if log.exists() and "started" in log.read_text():
            break
        time.sleep(0.05)
    batch.send_signal(signal.SIGUSR1)
    output, _ = batch.communicate(timeout=15)
    assert batch.returncode == 0, output
    assert log.read_text().splitlines() == ["started", "forwarded", "scontrol requeue 4242"]
    assert "asking the trainer to checkpoint" in output
