import numpy as np
import pytest
import torch

from hfm.radiome.models import UNETRSegmenter, VolumeClassifier, volume_encoder
from hfm.radiome.synthetic.phantoms import make_phantom
from hfm.radiome.tokenizer import VolumeTokenizer
from hfm.shared.artifacts import load_weights
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model

TINY = {"width": 48, "depth": 2, "heads": 3}


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)


def test_tokenizer_round_trip_and_coordinates() -> None:
    tokenizer = VolumeTokenizer(channels=2, patch=4)
    x = torch.randn(3, 2, 8, 12, 4)
    patches = tokenizer.patchify(x)
    assert patches.shape == (3, 2 * 3 * 1, 2 * 64)
    assert torch.equal(tokenizer.unpatchify(patches, (2, 8, 12, 4)), x)
    # Token 1 is the cube at (0, 1, 0): voxels y 4..7 of channel 0 come first in its vector.
    assert torch.equal(patches[0, 1, :64].reshape(4, 4, 4), x[0, 0, 0:4, 4:8, 0:4])
    assert tokenizer.coordinates((2, 8, 12, 4)).tolist() == [
        [0, 0, 0],
        [0, 1, 0],
        [0, 2, 0],
        [1, 0, 0],
        [1, 1, 0],
        [1, 2, 0],
    ]
    with pytest.raises(HFMError, match="does not divide"):
        tokenizer.patchify(torch.zeros(1, 2, 9, 8, 8))


def test_mae_hides_75_percent_in_blocks_and_learns() -> None:
    mae = create_model("radiome-mae-tiny", **TINY)
    image, _ = make_phantom((32, 32, 32), seed=0)
    x = torch.as_tensor(image)[None, None].repeat(2, 1, 1, 1, 1)
    output = mae(x)
    assert output.mask.shape == (2, 64) and output.mask.float().mean().item() == 0.75
    # Blocks of 2x2x2 tokens are hidden whole: every block is all-hidden or all-visible except at most one cut block.
    coords = mae.encoder.tokenizer.coordinates((1, 32, 32, 32))
    block = (coords // 2) @ torch.tensor([4.0, 2.0, 1.0])
    mixed = sum(len(set(output.mask[0][block == b].tolist())) > 1 for b in range(8))
    assert mixed <= 1
    optimizer = torch.optim.AdamW(mae.parameters(), lr=2e-3)
    mask = output.mask
    first = mae(x, mask).loss.item()
    for _ in range(10):
        loss = mae(x, mask).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.85 * first


def test_pretrained_mae_loads_into_segmenter_and_classifier_without_mismatch() -> None:
    mae = create_model("radiome-mae-tiny", **TINY)
    for model in (
        create_model("radiome-unetr-tiny", features=4, **TINY),
        create_model("radiome-classifier-tiny", **TINY),
    ):
        report = load_weights(model, mae.state_dict())
        encoder_keys = [k for k in model.state_dict() if k.startswith("encoder.")]
        assert sorted(report.matched) == sorted(encoder_keys) and not report.mismatched
        assert all(k.startswith("decoder") or k == "mask_token" for k in report.unused)
        assert torch.equal(model.state_dict()["encoder.embed.weight"], mae.state_dict()["encoder.embed.weight"])


def test_unetr_segments_any_patch_shape_divisible_by_8() -> None:
    model = create_model("radiome-unetr-tiny", classes=3, features=4, **TINY)
    assert isinstance(model, UNETRSegmenter)
    assert model(torch.randn(1, 1, 16, 24, 32)).shape == (1, 3, 16, 24, 32)
    with pytest.raises(HFMError, match="4\\^3 or 8\\^3 tokens"):
        UNETRSegmenter(volume_encoder(1, 2, **TINY), classes=3)


def test_unetr_with_4_voxel_tokens_has_two_stages_and_takes_a_4_voxel_mae() -> None:
    """The 4 mm whole-head UNETR: 4^3 tokens, two up-sampling stages, every encoder key from a 4^3 MAE."""
    model = create_model("radiome-unetr-tiny", classes=4, features=4, patch=4, **TINY)
    assert model.stages == 2 and not hasattr(model, "enc3") and not hasattr(model, "dec3")
    assert model(torch.randn(2, 1, 12, 20, 28)).shape == (2, 4, 12, 20, 28)
    report = load_weights(model, create_model("radiome-mae-tiny", patch=4, **TINY).state_dict())
    assert not report.mismatched and len(report.matched) == len([k for k in model.state_dict() if "encoder." in k])
    # an 8^3 MAE's token embedding does not fit 4^3 tokens
    assert "encoder.embed.weight" in report.matched
    coarse = load_weights(model, create_model("radiome-mae-tiny", **TINY).state_dict())
    assert "encoder.embed.weight" in [name for name, *_ in coarse.mismatched]


def test_unetr_with_4_voxel_tokens_learns_phantom_cores() -> None:
    """A few steps on one phantom: its loss falls, as the 8^3 one's does (a decoder that trains end to end)."""
    from hfm.radiome.tasks import segmentation_loss

    image, label = make_phantom((16, 16, 16), seed=0)
    x, y = torch.as_tensor(image)[None, None], torch.as_tensor(label)[None].long()
    model = create_model("radiome-unetr-tiny", classes=3, features=4, patch=4, **TINY)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss, _ = segmentation_loss(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]  # 0.71 with this seed


def test_volume_classifier_learns_core_presence() -> None:
    """Two classes of phantom: with a core brighter than its shell, and with a core darker than it."""
    volumes, targets = [], []
    for seed in range(24):
        image, label = make_phantom((16, 16, 16), seed=seed)
        if seed % 2:
            image = np.where(label == 2, image * 0.35, image)
        volumes.append(image)
        targets.append(seed % 2)
    x = torch.as_tensor(np.stack(volumes))[:, None]
    y = torch.as_tensor(targets)
    model = create_model("radiome-classifier-tiny", classes=2, **TINY)
    assert isinstance(model, VolumeClassifier)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(x[:16]), y[:16])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        correct = model(x).argmax(1) == y
    assert correct[:16].float().mean().item() == 1.0  # training volumes
    assert correct[16:].float().mean().item() >= 0.75  # 8 held-out volumes, chance 0.5
