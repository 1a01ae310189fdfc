import numpy as np
import pytest
import torch

from hfm.climate.models import interpolation_mask
from hfm.climate.tokenizer import FieldTokenizer
from hfm.shared.models.registry import create_model
from hfm.shared.models.tokenizer import Tokenizer


def test_tokenizer_round_trips_with_padding():
    tokenizer = FieldTokenizer(variables=2, patch_time=1, patch_lat=4, patch_lon=3)
    assert isinstance(tokenizer, Tokenizer)
    x = torch.randn(3, 2, 2, 13, 57)
    patches = tokenizer.patchify(x)
    assert patches.shape == (3, 2 * 2 * 4 * 19, 12)
    torch.testing.assert_close(tokenizer.unpatchify(patches, (2, 2, 13, 57)), x)
    coords = tokenizer.coordinates((2, 2, 13, 57))
    assert coords.shape == (patches.shape[1], 4)
    # token 0 covers time 0, variable 0, lat rows 0-3, lon columns 0-2
    torch.testing.assert_close(patches[0, 0], x[0, 0, 0, :4, :3].reshape(-1))
    assert coords[4 * 19].tolist() == [0.0, 1.0, 0.0, 0.0]  # the first token of variable 1


def test_interpolation_mask_hides_inner_steps_only():
    tokenizer = FieldTokenizer(variables=1, patch_lat=2, patch_lon=2)
    mask = interpolation_mask(tokenizer, (3, 1, 4, 4), batch=2)
    per_step = mask[0].reshape(3, 4)
    assert per_step[0].sum() == 0 and per_step[1].all() and per_step[2].sum() == 0


def test_interpolator_with_climatology_hides_only_the_field_channels():
    torch.manual_seed(0)
    model = create_model("climate-interpolator", patch_lat=2, patch_lon=2, width=16, depth=1, heads=2,
                         climatology_channel=True)  # fmt: skip
    assert model.encoder.tokenizer.variables == 2 and model.target_variables == 1
    mask = model.hidden_mask((5, 2, 4, 4), batch=3)
    per_step = mask[0].reshape(5, 2, 4)  # (time, channel, patch): field's inner steps hidden, forcing always seen
    assert per_step[1:4, 0].all() and not per_step[[0, 4], 0].any() and not per_step[:, 1].any()
    x = torch.randn(3, 5, 2, 4, 4)
    out = model(x, mask)
    filled = model.reconstruct(x, out)
    torch.testing.assert_close(filled[:, 2, 0], (x[:, 0, 0] + x[:, 4, 0]) / 2)
    torch.testing.assert_close(filled[:, :, 1], x[:, :, 1])  # the forcing passes through untouched
    out.loss.backward()  # a zero output layer still learns: its own gradient is not zero
    assert model.decoder_pred.weight.grad.abs().sum() > 0


def test_interpolator_is_a_residual_on_the_straight_line():
    torch.manual_seed(0)
    model = create_model("climate-interpolator", patch_lat=2, patch_lon=2, width=16, depth=1, heads=2)
    x = torch.randn(2, 5, 1, 4, 4)  # (B, T, V, H, W)
    mask = interpolation_mask(model.encoder.tokenizer, (5, 1, 4, 4), batch=2)
    filled = model.reconstruct(x, model(x, mask))  # untrained: the output layer is zero, exactly the line
    for step, w in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        torch.testing.assert_close(filled[:, step], x[:, 0] * (1 - w) + x[:, -1] * w)
    # the loss scores the hidden steps against their distance from the line: zero when the data are a line
    line = x[:, :1] + torch.linspace(0, 1, 5).view(1, 5, 1, 1, 1) * (x[:, -1:] - x[:, :1])
    assert model(line, mask).loss.item() < 1e-12 and model(x, mask).loss.item() > 0.1


def test_untrained_forecaster_is_anomaly_persistence_and_rolls_out():
    torch.manual_seed(0)
    model = create_model("climate-forecaster", history=2, patch_lat=2, patch_lon=2, width=16, depth=1, heads=2)
    x = torch.randn(2, 2, 1, 6, 6)
    torch.testing.assert_close(model(x), x[:, -1])
    out = model.rollout(x, 3)
    assert out.shape == (2, 3, 1, 6, 6)
    np.testing.assert_allclose(out[:, 2].numpy(), x[:, -1].numpy(), atol=1e-6)


@pytest.mark.parametrize("name", ["climate-mae", "climate-downscaler"])
def test_models_build_from_registry(name):
    model = create_model(name, patch_lat=2, patch_lon=2, width=16, depth=1, heads=2)
    assert model.hfm_model["name"] == name
