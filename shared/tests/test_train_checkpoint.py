"""Checkpoints: atomic folders with a sha256 manifest, keep-last-K, corrupt newest -> previous with a warning."""

from __future__ import annotations

import json

import pytest
import torch

from hfm.shared.train.checkpoint import (
    CheckpointWarning,
    checkpoint_dirs,
    load_latest,
    optimizer_from_safe,
    optimizer_to_safe,
    save_checkpoint,
)


def save_steps(folder, steps, keep_last=3):
    for step in steps:
        tensors = {"model": {"w": torch.full((3, 2), float(step))}}
        save_checkpoint(folder, step, tensors, {"data": {"epoch": 0, "offset": step}}, keep_last=keep_last)


def test_round_trip_and_keep_last(tmp_path):
    save_steps(tmp_path, [2, 4, 6, 8], keep_last=3)
    assert [step for step, _ in checkpoint_dirs(tmp_path)] == [8, 6, 4]
    latest = load_latest(tmp_path)
    assert latest.step == 8 and latest.state["data"]["offset"] == 8
    assert torch.equal(latest.tensors["model"]["w"], torch.full((3, 2), 8.0))
    # Only safetensors and JSON on disk: nothing that loading would unpickle.
    names = {p.name for p in (tmp_path / "step-000008").iterdir()}
    assert names == {"model.safetensors", "state.json", "manifest.json"}
    manifest = json.loads((tmp_path / "step-000008" / "manifest.json").read_text())
    assert set(manifest["files"]) == {"model.safetensors", "state.json"}
    assert not list(tmp_path.glob(".step-*"))  # no temporary folder left behind


@pytest.mark.parametrize("damage", ["truncate", "flip", "no-manifest"])
def test_damaged_newest_falls_back_to_previous_with_warning(tmp_path, damage):
    save_steps(tmp_path, [5, 10])
    newest = tmp_path / "step-000010"
    model = newest / "model.safetensors"
    if damage == "truncate":
        model.write_bytes(model.read_bytes()[:-7])
    elif damage == "flip":
        payload = bytearray(model.read_bytes())
        payload[-1] ^= 0xFF
        model.write_bytes(bytes(payload))
    else:
        (newest / "manifest.json").unlink()
    with pytest.warns(CheckpointWarning, match="skipping checkpoint step-000010") as caught:
        latest = load_latest(tmp_path)
    assert latest.step == 5 and torch.equal(latest.tensors["model"]["w"], torch.full((3, 2), 5.0))
    reason = {"truncate": "truncated", "flip": "sha256 does not match", "no-manifest": "missing"}[damage]
    assert reason in str(caught[0].message)


def test_every_checkpoint_damaged_gives_none(tmp_path):
    save_steps(tmp_path, [1])
    (tmp_path / "step-000001" / "state.json").write_text("{}")
    with pytest.warns(CheckpointWarning):
        assert load_latest(tmp_path) is None


def test_optimizer_state_round_trips_exactly():
    model = torch.nn.Linear(4, 3)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, betas=(0.9, 0.95))
    for _ in range(3):
        model(torch.randn(5, 4)).square().mean().backward()
        optimizer.step()
    tensors, plain = optimizer_to_safe(optimizer.state_dict())
    json.dumps(plain)  # the non-tensor part is plain JSON
    clone = torch.optim.AdamW(torch.nn.Linear(4, 3).parameters(), lr=0.5)
    clone.load_state_dict(optimizer_from_safe(tensors, json.loads(json.dumps(plain))))
    for a, b in zip(optimizer.state.values(), clone.state.values(), strict=True):
        assert all(torch.equal(a[k], b[k]) for k in ("step", "exp_avg", "exp_avg_sq"))
    assert clone.param_groups[0]["lr"] == 0.1
