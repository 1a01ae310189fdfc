"""The `embed` hook behind `hfm synergy atlas`: curated cases of different shapes embedded on one common grid."""

from pathlib import Path

import numpy as np
import pytest
import torch

from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.radiome.format import DatasetJson, NnunetRawFormat, export_case, write_dataset_json
from hfm.radiome.plugin import plugin
from hfm.radiome.synergy import centred_cube, common_grid, embed_curated
from hfm.radiome.synthetic.phantoms import make_phantom, phantom_affine
from hfm.shared.artifacts import ModelCard, export_model
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import embed
from hfm.shared.models.registry import create_model

CARD = ModelCard(name="untrained", license="MIT", intended_use="embed hook test", limitations="random weights")


def test_centred_cube_keeps_the_volume_in_the_middle() -> None:
    image = np.arange(1, 31, dtype=np.float32).reshape(1, 3, 5, 2)
    cube = centred_cube(image)
    assert cube.shape == (1, 5, 5, 5)
    assert np.array_equal(cube[0, 1:4, :, 1:3], image[0])  # 2 voxels of padding split 1 + 1, 3 split 1 + 2
    assert cube.sum() == image.sum()


def test_common_grid_covers_the_whole_field_of_view() -> None:
    ones = np.ones((1, 8, 16, 4), np.float32)
    grid = common_grid(ones, 16)
    assert grid.shape == (1, 16, 16, 16) and grid.dtype == np.float32
    assert grid[0, 8, 8, 8] == pytest.approx(1.0)  # the volume's centre stays inside it
    assert grid[0, 0, 8, 8] == pytest.approx(0.0)  # padding along the short x axis
    assert grid[0, 8, 0, 8] == pytest.approx(1.0)  # the longest axis fills the grid
    assert grid[0].mean() == pytest.approx(8 * 4 / 16**2, abs=0.02)  # the padded cube's share of the volume


@pytest.fixture
def curated_shapes(tmp_path: Path) -> Path:
    """Three phantom cases on three different grids, curated at 4 mm (so their shapes still differ)."""
    raw = tmp_path / "raw"
    for i, shape in enumerate([(20, 22, 18), (28, 16, 20), (16, 16, 24)]):
        image, label = make_phantom(shape, seed=i)
        export_case(raw, f"case{i:03d}", [image * 100.0], phantom_affine(2.0), label if i < 2 else None)
    write_dataset_json(
        raw, DatasetJson(channel_names={"0": "T1"}, labels={"background": 0, "shell": 1, "core": 2}, numTraining=2)
    )
    out = tmp_path / "curated"
    curate_nnunet(
        raw, out, (4.0, 4.0, 4.0), DatasetDescription("phantoms", "CC0-1.0", ["HFM tests"]), show_progress=False
    )
    return out


def test_cases_of_different_shapes_are_embedded_in_case_order(curated_shapes: Path, tmp_path: Path) -> None:
    samples = dict(NnunetRawFormat().iter_samples(curated_shapes))
    assert len({s.arrays["image"].shape for s in samples.values()}) == 3
    torch.manual_seed(0)
    mae = create_model("radiome-mae-tiny", depth=1)
    encoder = mae.encoder
    model = export_model(mae, tmp_path / "model", {}, CARD)
    embeddings, table = embed_curated(curated_shapes, model, side=16)
    assert embeddings.shape == (3, encoder.width) and np.isfinite(embeddings).all()
    assert list(table["key"]) == ["case000", "case001", "case002"]
    assert list(table["split"]) == ["train", "train", "test"]
    direct = embed(encoder, torch.from_numpy(common_grid(samples["case001"].arrays["image"], 16)[None]))
    np.testing.assert_allclose(embeddings[1], direct[0], rtol=1e-4, atol=1e-5)
    assert np.abs(embeddings[0] - embeddings[2]).max() > 1e-3  # different volumes, different embeddings
    hooked, hooked_table = plugin.hooks["embed"](curated_shapes, model)
    assert hooked.shape == (3, encoder.width) and list(hooked_table["key"]) == list(table["key"])


def test_an_encoder_of_another_input_is_refused(curated_shapes: Path, tmp_path: Path) -> None:
    model = export_model(
        create_model("series-encoder-tiny", channels=1, patch_len=16, depth=1), tmp_path / "m", {}, CARD
    )
    with pytest.raises(HFMError, match="SeriesTokenizer; radiome volumes need a VolumeTokenizer"):
        embed_curated(curated_shapes, model)
