from pathlib import Path

import numpy as np
import pytest

from hfm.radiome.format import DatasetJson, export_case, write_dataset_json
from hfm.radiome.synthetic.phantoms import make_phantom, phantom_affine

LABELS = {"background": 0, "shell": 1, "core": 2}


@pytest.fixture
def raw_dataset(tmp_path: Path) -> Path:
    """A small nnU-Net raw dataset of three phantom cases at 2 mm."""
    root = tmp_path / "Dataset001_Phantom"
    for i in range(3):
        image, label = make_phantom((20, 22, 18), seed=i)
        export_case(root, f"case{i:03d}", [image * 100.0], phantom_affine(2.0), label)
    write_dataset_json(root, DatasetJson(channel_names={"0": "T1"}, labels=LABELS, numTraining=3))
    return root


@pytest.fixture(autouse=True)
def _seed() -> None:
    np.random.seed(0)
