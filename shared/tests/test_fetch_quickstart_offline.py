"""`hfm quickstart` with neither mirror nor fetched data: a section whose data are missing is skipped with its
`hfm data fetch` command (exit 0), a real failure is still FAILED."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from hfm.shared import quickstart as runner
from hfm.shared.errors import HFMError
from hfm.shared.plugins import DomainPlugin
from hfm.shared.quickstart import QuickstartContext, QuickstartResult, run_quickstart
from hfm.shared.sample_data import require_data


@dataclass(frozen=True)
class FakeDomain:
    name: str
    hook: object
    distribution: str = "hfm-fake"
    version: str = "0"

    def load(self) -> DomainPlugin:
        return DomainPlugin(self.name, "fake", hooks={"quickstart": self.hook})


def needs_reference_data(context: QuickstartContext) -> QuickstartResult:
    require_data("seismic/dfdp-eqcorrscan/REA/TEST_")
    return QuickstartResult("needs-data", "## needs-data\n\nran\n")


def runs_on_packaged_data(context: QuickstartContext) -> QuickstartResult:
    return QuickstartResult("packaged", "## packaged\n\nran\n", {"score": 1.0})


def breaks(context: QuickstartContext) -> QuickstartResult:
    raise HFMError("a real bug")


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "empty-mirror").mkdir()
    monkeypatch.setenv("HFM_SHARED_DATA", str(tmp_path / "empty-mirror"))
    monkeypatch.setenv("HFM_DATA", str(tmp_path / "empty-cache"))
    return tmp_path


def test_missing_data_is_a_skipped_section_not_a_failure(offline: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    domains = [FakeDomain("needs-data", needs_reference_data), FakeDomain("packaged", runs_on_packaged_data)]
    monkeypatch.setattr(runner, "installed_domains", lambda: domains)
    monkeypatch.setattr(runner, "entry_points", lambda group: [])  # no after-steps (synergy's transfer matrix)
    index, failed = run_quickstart(QuickstartContext(offline / "report", smoke=True, show_progress=False))
    text = index.read_text()
    assert failed == []
    assert "## needs-data\n\nskipped: reference data 'seismic/dfdp-eqcorrscan/REA/TEST_' is not available" in text
    assert "run `hfm data fetch seismic/dfdp-eqcorrscan`" in text
    assert "## packaged\n\nran" in text and "FAILED" not in text

    monkeypatch.setattr(runner, "installed_domains", lambda: [*domains, FakeDomain("broken", breaks)])
    index, failed = run_quickstart(QuickstartContext(offline / "report", smoke=True, show_progress=False))
    assert failed == ["broken"] and "## broken\n\nFAILED: HFMError: a real bug" in index.read_text()


def test_the_real_seismic_quickstart_is_skipped_from_a_foreign_folder(offline: Path) -> None:
    """The command a new user types, from a folder outside the checkout, with an empty mirror and cache."""
    if "seismic" not in {ep.name for ep in entry_points(group="hfm.domains")}:
        pytest.skip("hfm-seismic is not installed")
    elsewhere = offline / "somewhere-else"
    elsewhere.mkdir()
    command = [sys.executable, "-c", "from hfm.shared.cli.main import run; run()", "quickstart", "--smoke", "-q"]
    done = subprocess.run(
        [*command, "--domain", "seismic", "--out", "report"],
        cwd=elsewhere,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    text = (elsewhere / "report" / "index.md").read_text()
    assert "## seismic\n\nskipped: " in text and "`hfm data fetch seismic/seisbench-dummy`" in text
    assert "seismic: skipped: " in done.stderr  # the terminal says it too
