"""The "mae" train task on an hfm-arrays dataset: data, normalisation, split selection, model and loss."""

import json

import numpy as np
import pytest
import torch

from hfm.shared.arraystore import ArrayStoreWriter
from hfm.shared.contracts import Sample
from hfm.shared.errors import HFMError
from hfm.shared.models.mae_task import MAETask
from hfm.shared.train.task import TrainTask, available_tasks, build_task


@pytest.fixture
def dataset(tmp_path):
    rng = np.random.default_rng(0)
    writer = ArrayStoreWriter()
    writer.open(tmp_path)
    for i in range(12):
        wave = (1000 * (i + 1) * rng.normal(size=(2, 64))).astype(np.float32)
        image = rng.normal(size=(1, 16, 16)).astype(np.float32)
        split = "train" if i < 8 else "test"
        writer.write(f"s{i:02d}", Sample(arrays={"wave": wave, "image": image}, attrs={"split": split}))
    writer.close()
    (tmp_path / "card.json").write_text(json.dumps({"statistics": [{"name": "wave", "mean": 0.0, "std": 5000.0}]}))
    return tmp_path


def test_mae_is_a_builtin_task_and_trains_a_registry_model(dataset):
    assert "mae" in available_tasks()
    options = {"dataset": str(dataset), "array": "wave", "tokenizer": {"kind": "series", "patch_len": 8}}
    options |= {"trunk_overrides": {"width": 32, "depth": 1, "heads": 2}, "mae": {"mask_ratio": 0.5}, "split": "train"}
    task = build_task("mae", {"name": "mae", **options})
    assert isinstance(task, MAETask) and isinstance(task, TrainTask)
    data = task.train_dataset()
    assert len(data) == 8 and data.data_shape == (2, 64)
    sample = data[3]
    # per-sample normalisation: each channel zero mean, unit variance, whatever its raw amplitude
    assert torch.allclose(sample.mean(dim=1), torch.zeros(2), atol=1e-5)
    assert torch.allclose(sample.std(dim=1, unbiased=False), torch.ones(2), atol=1e-3)
    model = task.build_model()
    assert model.hfm_model["name"] == "series-mae-tiny" and model.hfm_model["args"]["channels"] == 2
    loss, logs = task.loss(model, torch.stack([data[i] for i in range(4)]))
    assert loss.ndim == 0 and torch.isfinite(loss) and logs["mae_loss"] == pytest.approx(float(loss.detach()))


def test_image_arrays_and_dataset_normalisation(dataset):
    task = build_task("mae", {"dataset": str(dataset), "array": "image", "tokenizer": {"kind": "image", "patch": 4}})
    assert task.build_model().encoder.tokenizer.patch_dim == 16
    raw = build_task("mae", {"dataset": str(dataset), "array": "wave", "normalize": "dataset"}).train_dataset()
    assert raw.stats == (0.0, 5000.0) and len(raw) == 12


def test_bad_task_options_are_named(dataset):
    with pytest.raises(HFMError, match=r"task\.array: required"):
        build_task("mae", {"dataset": str(dataset)})
    with pytest.raises(HFMError, match=r"task\.colour: unknown option"):
        build_task("mae", {"dataset": str(dataset), "array": "wave", "colour": 1})
    with pytest.raises(HFMError, match="unknown trunk 'trunk-huge'"):
        build_task("mae", {"dataset": str(dataset), "array": "wave", "trunk": "trunk-huge"})
    with pytest.raises(HFMError, match="series needs 2-d samples"):
        build_task("mae", {"dataset": str(dataset), "array": "image"}).build_model()
    with pytest.raises(HFMError, match="no array 'nothing'"):
        build_task("mae", {"dataset": str(dataset), "array": "nothing"}).train_dataset()
    with pytest.raises(HFMError, match="split == 'dev'"):
        build_task("mae", {"dataset": str(dataset), "array": "wave", "split": "dev"}).train_dataset()
