import os

import pytest
import torch

from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.data import CuratedPlanktonDataset, load_curated
from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.plankton.tokenizer import model_input
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import InvalidInput

DESCRIBE = DatasetDescription("test-plankton", "CC-BY-4.0", ["Test Creator"])


@pytest.fixture
def curated(mixed_export, tmp_path):
    out = tmp_path / "curated"
    curate_objects(read_ecotaxa(mixed_export), out, DESCRIBE, CurationConfig(canvas=32), show_progress=False)
    return out


def test_items_are_bit_identical_to_model_input_of_the_loaded_canvases(curated):
    canvases, pixel_sizes, table = load_curated(curated)
    dataset = CuratedPlanktonDataset(curated)
    assert len(dataset) == len(canvases) == 6
    expected = model_input(canvases, pixel_sizes)
    for i in range(len(dataset)):
        item, taxon = dataset[i]
        assert item.dtype == torch.float32 and item.shape == (2, 32, 32)
        assert torch.equal(item, expected[i])
        assert taxon == (table["taxon"].iloc[i] or "")  # no taxon: ""


def test_an_image_path_escaping_the_dataset_is_refused_when_the_dataset_opens(curated, tmp_path):
    outside = tmp_path / "outside.png"
    first = sorted((curated / "images").iterdir())[0]
    outside.write_bytes(first.read_bytes())
    first.unlink()
    os.symlink(outside, first)
    with pytest.raises(InvalidInput, match="symlink leading outside"):
        CuratedPlanktonDataset(curated)
    first.unlink()
    with pytest.raises(InvalidInput, match="not found"):
        CuratedPlanktonDataset(curated)
