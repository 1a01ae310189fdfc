"""`hfm launch` and `hfm jobs` through the CLI, with stub sbatch/squeue/sacct standing in for a cluster."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hfm.shared.cli.main import app, run
from hfm.shared.launch import LaunchRequest, load_site, render_script

runner = CliRunner()


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PATH holding only stub SLURM commands (and bash); what sbatch reads is saved to submitted.sh."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {
        "sbatch": f'cat > {tmp_path}/submitted.sh\necho "$*" > {tmp_path}/sbatch-args\necho "1234;cluster"',
        "squeue": 'echo "77|hfm-train|RUNNING|1:02|2:00:00|2|jwb[0001-0002]"\n'
        'echo "78|hfm-eval|PENDING|0:00|1:00:00|1|(Priority)"',
        "sacct": 'echo "70|hfm-train|COMPLETED|1:59:58|2:00:00|2|0:0"',
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    (bin_dir / "cat").symlink_to(shutil.which("cat"))
    # Only the stubs and Python: a real SLURM installed on this machine must not be reached.
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path(sys.executable).parent}")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("HFM_SITES_PATH", raising=False)
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_dry_run_prints_the_rendered_script(fake_slurm: Path) -> None:
    result = runner.invoke(
        app,
        [
            "launch",
            "--site",
            "horeka",
            "--nodes",
            "2",
            "--account",
            "hk-demo",
            "--dry-run",
            "--",
            "hfm",
            "train",
            "r.yaml",
        ],
    )
    assert result.exit_code == 0, result.output
    expected = render_script(load_site("horeka"), LaunchRequest(["hfm", "train", "r.yaml"], nodes=2, account="hk-demo"))
    assert result.output == expected
    assert not (fake_slurm / "submitted.sh").exists()


def test_account_comes_from_the_budget_variable(fake_slurm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUDGET_ACCOUNTS", "training2400")
    result = runner.invoke(app, ["launch", "--site", "juwels-booster", "--dry-run", "--", "hfm", "train", "r.yaml"])
    assert result.exit_code == 0, result.output
    assert "#SBATCH --account=training2400" in result.output


def test_submit_sends_the_script_to_sbatch_and_prints_the_job_id(fake_slurm: Path) -> None:
    result = runner.invoke(app, ["launch", "--site", "local-slurm", "--", "hfm", "train", "r.yaml"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "1234"
    assert "logs: hfm-train-1234.out" in result.output
    submitted = (fake_slurm / "submitted.sh").read_text()
    assert submitted.startswith("#!/bin/bash\n")
    assert "--num_processes 2" in submitted
    assert (fake_slurm / "sbatch-args").read_text().split() == ["--parsable", f"--chdir={fake_slurm}"]


def test_jobs_lists_queue_and_history(fake_slurm: Path) -> None:
    result = runner.invoke(app, ["jobs"])
    assert result.exit_code == 0, result.output
    assert "77" in result.output and "RUNNING" in result.output and "Priority" in result.output
    history = runner.invoke(app, ["jobs", "--history"])
    assert history.exit_code == 0, history.output
    assert "70" in history.output and "COMPLETED" in history.output


def test_missing_sbatch_is_a_clear_error(fake_slurm: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (fake_slurm / "bin" / "sbatch").unlink()
    with pytest.raises(SystemExit) as stop:
        run(["launch", "--site", "generic-slurm", "--", "hfm", "train", "r.yaml"])
    assert stop.value.code == 1
    assert "sbatch: not found on PATH" in capsys.readouterr().err
