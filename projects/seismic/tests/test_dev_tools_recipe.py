"""Issue 14: the dev tools train exactly the picker the benchmark scores (`benchmarks.recipe`), refiner included."""

import numpy as np
import pytest
import torch

from hfm.seismic.benchmarks.picking import PickBenchConfig
from hfm.seismic.benchmarks.recipe import finetune_picker, picker_options
from hfm.seismic.benchmarks.robustness import VARIANTS, dev_scores, select_on_dev, state_rows
from hfm.seismic.data.records import Records
from hfm.seismic.data.windows import synthetic_windows

# A recipe unlike the registry's defaults in every option the dev tools used to drop (refiner, target width) or keep.
CONFIG = PickBenchConfig(
    window=400, crops_per_record=2, finetune_steps=2, batch_size=4, refiner_depth=2, sigma_s=0.2, horizontal_noise=0.25
)


def _records() -> Records:
    # 40 s each: room for dev noise windows
    return Records.from_windows(synthetic_windows(6, seed=4, samples=4000, noise_fraction=0.0))


def test_picker_options_are_the_benchmarks_recipe_with_one_lever_changed():
    options = picker_options(CONFIG, "enc")
    assert options == {
        "init": "enc",
        "init_scope": "picker",  # the onset pretraining trains the whole picker (the default objective)
        "sigma_s": 0.2,
        "normalization": "component",
        "horizontal_dropout": 0.3,
        "horizontal_noise": 0.25,
        "model_args": {"refiner_depth": 2},
    }
    lever = picker_options(CONFIG, model_args={"depth": 3}, sigma_s=0.1)
    assert lever["model_args"] == {"refiner_depth": 2, "depth": 3} and lever["sigma_s"] == 0.1  # the refiner stays
    assert picker_options(CONFIG, model_args={"refiner_depth": 0})["model_args"] == {"refiner_depth": 0}
    # the robustness variants replace the scaling and augmentation whole instead of inheriting the config's
    assert VARIANTS["window"] == {"normalization": "window", "horizontal_dropout": 0.0, "horizontal_noise": 0.0}


def test_the_dev_selection_and_the_states_train_the_benchmarks_picker_byte_for_byte(tmp_path):
    torch.set_num_threads(1)
    records = _records()
    train, dev = records.subset(np.arange(4)), records.subset([4, 5])
    rows = select_on_dev(train, dev, tmp_path / "dev", CONFIG, {"present": {}}, (1,), ("as recorded",))
    # what run_pick_benchmark trains for its scratch picker, same seed
    bench = finetune_picker(train, tmp_path / "bench", CONFIG.settings(CONFIG.finetune_steps, 1), CONFIG)
    assert len(bench.refiner.blocks) == 2  # the refiner the old dev selection left out
    weights = (tmp_path / "bench" / "final" / "model.safetensors").read_bytes()
    assert (tmp_path / "dev" / "present-seed1" / "final" / "model.safetensors").read_bytes() == weights
    row = rows[0]
    assert (row["model_args"], row["sigma_s"], row["horizontal_noise"]) == ({"refiner_depth": 2}, 0.2, 0.25)
    expected = dev_scores(bench, dev, CONFIG.window, ("as recorded",))
    assert {k: row[k] for k in expected} == pytest.approx(expected, abs=0.0)
    by_step = state_rows(train, dev, tmp_path / "states", CONFIG, every=1, seeds=(1,))
    assert sorted(by_step) == [1, 2]
    assert (tmp_path / "states" / "states-seed1" / "final" / "model.safetensors").read_bytes() == weights
    assert by_step[2][0]["dev P F1"] == expected["dev P F1"]
    assert by_step[2][0]["dev detection ROC-AUC"] == expected["dev detection ROC-AUC"]
