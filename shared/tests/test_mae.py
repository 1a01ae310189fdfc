"""Masked autoencoding: exact mask ratios, block masks on the coordinate grid, loss on hidden patches only, learning."""

import math

import pytest
import torch

from hfm.shared.errors import HFMError
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.generic_tokenizers import ImageTokenizer, SeriesTokenizer
from hfm.shared.models.mae import MAEConfig, MaskedAutoencoder, random_mask
from hfm.shared.models.trunk import TrunkConfig

TINY = TrunkConfig(width=64, depth=2, heads=4)
DECODER = {"decoder_width": 64, "decoder_depth": 1, "decoder_heads": 4}


@pytest.fixture(autouse=True)
def one_thread():
    """The test machine is shared: one thread is faster than contended ones and keeps runs comparable."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("ratio, tokens, hidden", [(0.75, 16, 12), (0.5, 10, 5), (0.3, 7, 2), (0.9, 50, 45)])
def test_random_mask_hides_exactly_the_requested_ratio(ratio, tokens, hidden):
    coords = torch.arange(tokens, dtype=torch.float32)[:, None]
    mask = random_mask(64, coords, ratio, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (64, tokens) and (mask.sum(dim=1) == hidden).all()
    distinct = len({tuple(m.tolist()) for m in mask})
    assert distinct >= min(50, 0.9 * math.comb(tokens, hidden))  # samples get different masks


def test_block_mask_hides_whole_spans_of_a_series():
    coords = torch.arange(40, dtype=torch.float32)[:, None]
    mask = random_mask(32, coords, 0.5, block_size=4, generator=torch.Generator().manual_seed(1))
    assert (mask.sum(dim=1) == 20).all()
    cells = mask.view(32, 10, 4)
    assert bool(((cells.sum(dim=2) == 0) | (cells.sum(dim=2) == 4)).all())  # 20 = 5 whole spans of 4


def test_block_mask_hides_squares_on_an_image_grid_and_keeps_the_ratio_with_a_partial_block():
    coords = ImageTokenizer(1, 4).coordinates((1, 32, 32))  # 8 x 8 grid
    mask = random_mask(16, coords, 0.3, block_size=2, generator=torch.Generator().manual_seed(2))
    assert (mask.sum(dim=1) == 19).all()  # round(0.3 * 64): 4 whole 2x2 squares and 3 of a fifth
    squares = mask.view(16, 4, 2, 4, 2).permute(0, 1, 3, 2, 4).reshape(16, 16, 4).sum(dim=2)
    assert ((squares == 4).sum(dim=1) == 4).all() and ((squares == 3).sum(dim=1) == 1).all()
    assert ((squares == 1) | (squares == 2)).sum() == 0


def test_mask_ratio_must_leave_something_to_see_and_to_hide():
    with pytest.raises(HFMError, match="hides 0"):
        random_mask(1, torch.zeros(3, 1), 0.1)
    with pytest.raises(HFMError, match="mask_ratio"):
        MAEConfig(mask_ratio=1.0)


def test_loss_counts_hidden_patches_only():
    torch.manual_seed(0)
    model = MaskedAutoencoder(TokenEncoder(SeriesTokenizer(1, 4), TINY), MAEConfig(mask_ratio=0.5, **DECODER))
    x = torch.randn(2, 1, 32)
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[:, :4] = True
    out = model(x, mask=mask)
    per_patch = (out.prediction - model.targets(model.encoder.tokenizer.patchify(x))).pow(2).mean(dim=-1)
    assert torch.allclose(out.loss, per_patch[:, :4].mean())
    # changing a visible patch's target does not change what is scored, only what the encoder sees
    assert not torch.allclose(out.loss, per_patch.mean())
    assert torch.equal(out.mask, mask)


def test_normalised_targets_have_zero_mean_unit_variance_per_patch():
    model = MaskedAutoencoder(TokenEncoder(SeriesTokenizer(2, 8), TINY), MAEConfig(**DECODER))
    targets = model.targets(torch.randn(3, 5, 16) * 7 + 3)
    assert torch.allclose(targets.mean(dim=-1), torch.zeros(3, 5), atol=1e-5)
    assert torch.allclose(targets.std(dim=-1, unbiased=False), torch.ones(3, 5), atol=1e-4)


def _periodic(n: int, generator: torch.Generator) -> torch.Tensor:
    """Each sample repeats its own random 8-sample pattern: hidden patches are predictable from visible ones."""
    pattern = torch.randn(n, 2, 8, generator=generator)
    return pattern.repeat(1, 1, 16) + 0.1 * torch.randn(n, 2, 128, generator=generator)


@pytest.mark.parametrize("block_size", [1, 2])
def test_mae_loss_falls_on_structured_series(block_size):
    torch.manual_seed(0)
    model = MaskedAutoencoder(
        TokenEncoder(SeriesTokenizer(2, 8), TINY), MAEConfig(mask_ratio=0.75, block_size=block_size, **DECODER)
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        loss = model(_periodic(16, data)).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert first > 0.9  # normalised targets: guessing the patch mean costs about 1
    assert last < 0.5 * first, (first, last)


def test_reconstruction_keeps_visible_patches_and_has_the_data_shape():
    torch.manual_seed(0)
    model = MaskedAutoencoder(TokenEncoder(ImageTokenizer(1, 4), TINY), MAEConfig(**DECODER))
    x = torch.randn(2, 1, 16, 16)
    out = model(x)
    rebuilt = model.reconstruct(x, out)
    assert rebuilt.shape == x.shape
    tok = model.encoder.tokenizer
    assert torch.allclose(tok.patchify(rebuilt)[~out.mask], tok.patchify(x)[~out.mask])
