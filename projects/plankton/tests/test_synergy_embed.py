"""The `embed` hook behind `hfm synergy atlas`: curated objects as the plankton encoder reads them (canvas + scale)."""

import numpy as np
import pytest
import torch

from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.data import load_curated
from hfm.plankton.plugin import plugin
from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.plankton.synergy import embed_curated
from hfm.plankton.tokenizer import model_input
from hfm.shared.artifacts import ModelCard, export_model
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import embed
from hfm.shared.models.registry import create_model

CARD = ModelCard(name="untrained", license="MIT", intended_use="embed hook test", limitations="random weights")


@pytest.fixture
def curated(mixed_export, tmp_path):
    out = tmp_path / "curated"
    describe = DatasetDescription("mixed", "CC0-1.0", ["HFM tests"])
    curate_objects(read_ecotaxa(mixed_export), out, describe, CurationConfig(canvas=32), show_progress=False)
    return out


def test_objects_are_embedded_with_their_scale_channel_keyed_by_object_id(curated, tmp_path):
    torch.manual_seed(0)
    encoder = create_model("image-encoder-tiny", channels=2, patch=8, depth=1)
    model = export_model(encoder, tmp_path / "model", {}, CARD)
    embeddings, table = embed_curated(curated, model)
    canvases, pixel_sizes, _ = load_curated(curated)
    assert embeddings.shape == (6, encoder.width) and np.isfinite(embeddings).all()
    assert list(table["key"]) == [f"obj_{i:03d}" for i in range(6)] == list(table["object_id"])
    np.testing.assert_allclose(embeddings, embed(encoder, model_input(canvases, pixel_sizes)), rtol=1e-5, atol=1e-6)
    # the big object was shrunk onto its canvas: its larger pixel size reaches the encoder and changes its embedding
    assert pixel_sizes[4] > pixel_sizes[0]
    same_scale = embed(encoder, model_input(canvases[4:5], pixel_sizes[:1]))
    assert np.abs(same_scale[0] - embeddings[4]).max() > 1e-4
    hooked, hooked_table = plugin.hooks["embed"](curated, model)
    np.testing.assert_array_equal(hooked, embeddings)
    assert list(hooked_table["key"]) == list(table["key"])


def test_an_encoder_without_the_scale_channel_is_refused(curated, tmp_path):
    model = export_model(create_model("image-encoder-tiny", channels=1, patch=8, depth=1), tmp_path / "m", {}, CARD)
    with pytest.raises(HFMError, match="takes 1 channels; plankton objects are 2"):
        embed_curated(curated, model)
