"""The main job in its smallest form: `hfm quickstart --smoke` with every package installed."""

import json
import subprocess
import sys


def test_quickstart_smoke_reports_every_domain_and_the_transfer_matrix(tmp_path):
    out = tmp_path / "report"
    result = subprocess.run(
        [sys.executable, "-m", "hfm.shared.cli.main", "quickstart", "--smoke", "--quiet", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.strip().endswith("index.md")
    index = (out / "index.md").read_text()
    for domain in ("seismic", "radiome", "climate", "plankton"):
        assert f"## {domain}" in index, index
        assert "FAILED" not in index
    assert "## Cross-domain transfer" in index and "| random init |" in index
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"climate", "synergy"} <= set(metrics)
    targets = {s["target"] for s in metrics["synergy"]["scores"]}
    assert len(targets) >= 3, targets
    assert (out / "synergy" / "transfer_probe.png").stat().st_size > 5_000
