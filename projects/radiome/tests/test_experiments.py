"""The experiments beside the benchmark run end to end at toy size: the phantom scale test, the loader speed
comparison and the earlier one-template experiment (skipped without the ITK example subject)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hfm.radiome.experiments.phantoms import phantom_scale, pipeline_speed
from hfm.radiome.readers.brain import ITK_INSTALL_HINT, itk_data_dir, nilearn_data_dir


def test_phantom_scale_and_pipeline_speed(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    scores = phantom_scale(tmp_path, steps=2, tests=1)
    assert set(scores) == {"hfm", "kmeans", "otsu", "inference_s"}
    assert all(0.0 <= scores[m] <= 1.0 for m in ("hfm", "kmeans", "otsu")) and scores["inference_s"] > 0
    hfm, monai = pipeline_speed(tmp_path / "curated", items=4, patch=16)
    assert hfm > 0 and monai > 0


@pytest.mark.skipif(itk_data_dir() is None or nilearn_data_dir() is None, reason=f"needs MNI152 and {ITK_INSTALL_HINT}")
def test_brain_experiment_writes_results_and_a_predictable_model(tmp_path: Path) -> None:
    from hfm.radiome.experiments.brain import BrainConfig, run_brain_experiment

    config = BrainConfig(pretrain_steps=2, finetune_steps=2, batch_size=1, model_args={"width": 48, "depth": 2})
    result = run_brain_experiment(tmp_path, config)
    methods = {r.method for r in result.rows}
    assert {"hfm UNETR (MAE-pretrained)", "MONAI UNet (scratch)", "k-means (3 clusters)"} <= methods
    assert json.loads((tmp_path / "results.json").read_text())["config"]["finetune_steps"] == 2
    assert (result.finetuned / "plan.json").is_file() and (result.finetuned / "model.safetensors").is_file()
