"""Generic tokenizers, the token encoder and the model registry."""

import pytest
import torch

from hfm.shared.errors import HFMError
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.generic_tokenizers import ImageTokenizer, SeriesTokenizer, tokenizer_from_config
from hfm.shared.models.registry import (
    TRUNK_CONFIGS,
    create_model,
    list_models,
    model_info,
    register_model,
    trunk_config,
)
from hfm.shared.models.tokenizer import Tokenizer
from hfm.shared.models.trunk import Trunk, TrunkConfig

TINY = TrunkConfig(width=32, depth=1, heads=2)


def test_series_tokenizer_round_trips_and_orders_patches_in_time():
    tok = SeriesTokenizer(channels=3, patch_len=10)
    assert isinstance(tok, Tokenizer) and tok.patch_dim == 30
    x = torch.randn(2, 3, 50)
    patches = tok.patchify(x)
    assert patches.shape == (2, 5, 30)
    assert torch.equal(tok.unpatchify(patches, (3, 50)), x)
    # patch 1 holds samples 10..19 of every channel, channel-major
    assert torch.equal(patches[0, 1].view(3, 10), x[0, :, 10:20])
    assert torch.equal(tok.coordinates((3, 50))[:, 0], torch.arange(5.0))


def test_series_remainder_is_dropped_then_zero_filled():
    tok = SeriesTokenizer(channels=1, patch_len=4)
    x = torch.arange(11.0).view(1, 1, 11)
    back = tok.unpatchify(tok.patchify(x), (1, 11))
    assert torch.equal(back[..., :8], x[..., :8]) and torch.equal(back[..., 8:], torch.zeros(1, 1, 3))


def test_image_tokenizer_round_trips_row_major_with_grid_coordinates():
    tok = ImageTokenizer(channels=2, patch=4)
    assert isinstance(tok, Tokenizer) and tok.patch_dim == 32
    x = torch.randn(3, 2, 8, 12)
    patches = tok.patchify(x)
    assert patches.shape == (3, 6, 32)
    assert torch.equal(tok.unpatchify(patches, (2, 8, 12)), x)
    assert torch.equal(patches[1, 4].view(2, 4, 4), x[1, :, 4:8, 4:8])  # row 1, column 1 of a 2 x 3 grid
    assert tok.coordinates((2, 8, 12)).tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]


def test_tokenizers_name_the_bad_shape():
    with pytest.raises(HFMError, match=r"shape \(3, T\)"):
        SeriesTokenizer(3, 10).patchify(torch.zeros(1, 2, 50))
    with pytest.raises(HFMError, match="smaller than one patch"):
        ImageTokenizer(1, 16).patchify(torch.zeros(1, 1, 8, 8))
    assert tokenizer_from_config(SeriesTokenizer(3, 7).config()).patch_len == 7
    with pytest.raises(HFMError, match="unknown"):
        tokenizer_from_config({"kind": "volume"})


def test_encoder_gives_tokens_and_pooled_embedding_with_trunk_keys_under_trunk():
    torch.manual_seed(0)
    encoder = TokenEncoder(SeriesTokenizer(3, 10), TINY)
    x = torch.randn(4, 3, 60)
    tokens = encoder(x)
    assert tokens.shape == (4, 6, 32)
    assert torch.allclose(encoder.pooled(x), tokens.mean(dim=1))
    keys = set(encoder.state_dict())
    assert {k.removeprefix("trunk.") for k in keys if k.startswith("trunk.")} == set(Trunk(TINY).state_dict())
    assert keys - {k for k in keys if k.startswith("trunk.")} == {"embed.weight", "embed.bias"}
    # positions matter: shuffling the patches changes the tokens
    shuffled = torch.cat([x[..., 10:], x[..., :10]], dim=-1)
    assert not torch.allclose(encoder(shuffled)[:, :5], tokens[:, 1:], atol=1e-4)


def test_registry_lists_by_pattern_and_creates_with_overrides():
    assert list_models("trunk-*") == ["trunk-base", "trunk-small", "trunk-tiny"]
    assert {"series-mae-tiny", "image-encoder-small"} <= set(list_models())
    assert (TRUNK_CONFIGS["tiny"].width, TRUNK_CONFIGS["small"].depth, TRUNK_CONFIGS["base"].heads) == (192, 12, 12)
    trunk = create_model("trunk-tiny", depth=2)
    assert isinstance(trunk, Trunk) and len(trunk.blocks) == 2 and trunk.config.width == 192
    model = create_model("image-mae-tiny", channels=3, patch=4, depth=1, mask_ratio=0.5)
    assert model.encoder.tokenizer.patch_dim == 48 and model.config.mask_ratio == 0.5
    assert model.hfm_model == {
        "name": "image-mae-tiny",
        "args": {"channels": 3, "patch": 4, "depth": 1, "mask_ratio": 0.5},
    }
    info = model_info("series-encoder-base").pretrained
    assert (info.architecture, info.trunk, info.default_args["patch_len"]) == ("encoder", "base", 16)
    assert trunk_config("trunk-small", depth=3) == TrunkConfig(width=384, depth=3, heads=6)


def test_registry_errors_name_the_problem():
    with pytest.raises(HFMError, match="unknown model 'series-mae-huge'"):
        create_model("series-mae-huge")
    with pytest.raises(HFMError, match="unknown model argument colour"):
        create_model("series-mae-tiny", colour=1)
    with pytest.raises(HFMError, match="no field wdth"):
        create_model("trunk-tiny", wdth=3)
    with pytest.raises(HFMError, match="already registered"):
        register_model("trunk-tiny")(lambda: Trunk(TINY))


def test_domains_register_their_own_models():
    @register_model("test-domain-encoder")
    def _factory(channels: int = 2) -> torch.nn.Module:
        return TokenEncoder(SeriesTokenizer(channels, 5), TINY)

    assert "test-domain-encoder" in list_models("test-*")
    assert create_model("test-domain-encoder", channels=4).tokenizer.channels == 4
    with pytest.raises(HFMError, match="takes no argument patch"):
        create_model("test-domain-encoder", patch=3)
