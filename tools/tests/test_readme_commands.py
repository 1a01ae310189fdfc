"""README's two set-up commands must stay true: they name nox sessions that exist, and CI runs the second one."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("readme_commands", ROOT / "tools" / "readme_commands.py")
readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme)


def test_readme_starts_with_main_job_and_test_command():
    commands = readme.readme_commands()
    assert commands["main"] == "python3 -m pip install -q nox && nox -s quickstart"
    assert commands["test"] == "python3 -m pip install -q nox && nox -t ci"


def test_ci_runs_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    assert "command=$(python3 tools/readme_commands.py test)" in script and 'bash -c "$command"' in script
    printed = subprocess.run(
        [sys.executable, "tools/readme_commands.py", "test"], cwd=ROOT, capture_output=True, text=True
    )
    assert printed.stdout.strip() == readme.readme_commands()["test"]


def test_a_readme_without_commands_is_refused(tmp_path):
    (tmp_path / "README.md").write_text("# nothing here\n")
    try:
        readme.readme_commands(tmp_path / "README.md")
    except SystemExit as error:
        assert "no ```bash block" in str(error)
    else:
        raise AssertionError("a README without commands was accepted")


def test_named_sessions_exist_in_the_noxfile():
    listing = subprocess.run([sys.executable, "-m", "nox", "-l"], cwd=ROOT, capture_output=True, text=True)
    assert listing.returncode == 0, listing.stderr
    for session in ("quickstart", "lint", "layout", "tests-shared", "tests-synergy"):
        assert f"{session}" in listing.stdout
