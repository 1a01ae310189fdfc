"""`hfm --help` names every command group and imports no domain (nor torch) to do it."""

from __future__ import annotations

import json
import subprocess
import sys

from hfm.shared.plugins import installed_domains

PROBE = """
import contextlib, io, json, sys
from hfm.shared.cli.main import run
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
    run(["--help"])
print(json.dumps({"help": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_help_lists_every_group_without_importing_a_domain():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    listed = {line.split()[1] for line in result["help"].splitlines() if line.startswith("│ ") and line[2] != " "}
    assert {"train", "card", "curate", "models", "bench", "quickstart"} <= listed
    assert {d.name for d in installed_domains()} <= listed
    heavy = [
        m
        for m in result["modules"]
        if m == "torch" or m.split(".")[:2] in (["hfm", d.name] for d in installed_domains())
    ]
    assert heavy == []


def test_an_error_quoting_brackets_keeps_them(tmp_path):
    folder = tmp_path / "a[f]b"
    done = subprocess.run(
        [sys.executable, "-m", "hfm.shared.cli.main", "card", "validate", str(folder)], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "a[f]b" in " ".join((done.stdout + done.stderr).split())
