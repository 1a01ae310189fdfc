"""The picker's optional sample-rate refiner (issue 14): it starts as no correction, sees +-1.26 s (depth 6) or
+-5.1 s (depth 8), loads a pretrained encoder by name like the plain picker, and learns (its output layer moves, the
loss falls)."""

import json

import pytest
import torch

from hfm.seismic.data.windows import synthetic_windows
from hfm.seismic.models import DilatedRefiner
from hfm.seismic.training import finetune_windows, pretrain_windows
from hfm.shared.models.loading import load_encoder
from hfm.shared.models.registry import create_model
from hfm.shared.shortcuts import RunSettings

TINY = {"width": 32, "depth": 1, "heads": 2, "patch_len": 20}


def test_an_untrained_refiner_leaves_the_picker_unchanged():
    torch.manual_seed(0)
    plain = create_model("seismic-picker-tiny", **TINY).eval()
    refined = create_model("seismic-picker-tiny", **TINY, refiner_depth=6).eval()
    missing, unexpected = refined.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and all(k.startswith("refiner.") for k in missing) and len(missing) == 2 + 2 * 6 + 2
    x = torch.randn(2, 3, 437)  # not a multiple of the patch: the refiner keeps the length too
    with torch.no_grad():
        torch.testing.assert_close(refined(x), plain(x), rtol=0, atol=0)
    assert refined(x).shape == (2, 4, 437)


@pytest.mark.parametrize(("depth", "reach"), [(6, 126), (8, 510)])
def test_the_refiner_sees_its_receptive_field_either_side(depth, reach):
    torch.manual_seed(0)
    refiner = DilatedRefiner(7, depth=depth).eval()
    torch.nn.init.normal_(refiner.out.weight)  # a trained refiner: the zero output layer would hide everything
    x = torch.randn(1, 7, 1201, requires_grad=True)
    refiner(x)[0, :, 600].sum().backward()
    reached = torch.nonzero(x.grad.abs().sum(dim=1)[0]).flatten()
    assert (int(reached.min()), int(reached.max())) == (600 - reach, 600 + reach)


def test_a_refined_picker_loads_a_pretrained_encoder_and_learns(tmp_path):
    torch.set_num_threads(1)
    windows = synthetic_windows(32, seed=0, samples=400)
    settings = RunSettings(steps=20, batch_size=16, lr=3e-3, progress=False)
    pretrain_windows(windows, tmp_path / "mae", RunSettings(steps=2, batch_size=8, progress=False), model_args=TINY)
    picker = create_model("seismic-picker-tiny", **TINY, refiner_depth=3)
    report = load_encoder(picker, tmp_path / "mae" / "final")
    assert len(report.matched) == len([k for k in picker.state_dict() if k.startswith("encoder.")])
    args = {**TINY, "refiner_depth": 3}
    model, _ = finetune_windows(
        windows, tmp_path / "pick", settings, model_args=args, init=str(tmp_path / "mae" / "final")
    )
    losses = [json.loads(line)["loss"] for line in (tmp_path / "pick" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < 0.8 * losses[0]
    assert float(model.refiner.out.weight.detach().abs().max()) > 1e-3  # the correction is trained, not left at zero
