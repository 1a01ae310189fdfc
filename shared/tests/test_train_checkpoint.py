"""Checkpoints: atomic folders with a sha256 manifest, keep-last-K, corrupt newest -> previous with a warning."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

import hfm.shared.train.checkpoint as checkpoint_module
from hfm.shared.train.checkpoint import (
    CheckpointWarning,
    checkpoint_dirs,
    load_latest,
    manifest_checksum,
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


def _edit_manifest(path, edit, rechecksum=False):
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest = edit(manifest)
    if rechecksum and isinstance(manifest, dict):
        manifest["checksum"] = manifest_checksum(manifest)
    manifest_path.write_text(json.dumps(manifest))


def _rename_bytes(manifest):
    for entry in manifest["files"].values():
        entry["size"] = entry.pop("bytes")
    return manifest


MALFORMED = {
    # issue 20's probes: each once as a damaged file (checksum no longer matches) and once re-checksummed, as a
    # deliberate forgery would be, so the structural checks are exercised on their own.
    "renamed-key": (_rename_bytes, "files.model.safetensors` must be a plain file name with sha256 and bytes"),
    "empty-list": (lambda m: [], "expected a JSON object, got list"),
    "flipped-step": (lambda m: {**m, "step": 11}, "field `step` is 11 but the folder is step-000010"),
    "step-as-text": (lambda m: {**m, "step": "10"}, "field `step` must be an integer"),
    "no-files": (lambda m: {k: v for k, v in m.items() if k != "files"}, "field `files` must map"),
    "bad-keep": (lambda m: {**m, "keep": "all"}, "field `keep` must be a list of steps"),
    "path-in-files": (
        lambda m: {**m, "files": {"../x": {"sha256": "0", "bytes": 1}}},
        "must be a plain file name",
    ),
    "future-format": (lambda m: {**m, "format": 99}, "field `format` is 99"),
}


@pytest.mark.parametrize("rechecksum", [False, True], ids=["damaged", "forged"])
@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_manifest_warns_and_falls_back(tmp_path, case, rechecksum):
    save_steps(tmp_path, [5, 10])
    edit, reason = MALFORMED[case]
    _edit_manifest(tmp_path / "step-000010", edit, rechecksum)
    if not rechecksum and case not in ("empty-list", "future-format"):
        reason = "field `checksum` does not match the manifest"
    with pytest.warns(CheckpointWarning, match="skipping checkpoint step-000010") as caught:
        latest = load_latest(tmp_path)
    assert latest.step == 5 and torch.equal(latest.tensors["model"]["w"], torch.full((3, 2), 5.0))
    assert reason in str(caught[0].message)


def test_manifest_carries_its_checksum_and_old_manifests_still_load(tmp_path):
    save_steps(tmp_path, [3])
    path = tmp_path / "step-000003"
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == 2 and manifest["checksum"] == manifest_checksum(manifest)
    # a format-1 manifest (written before the checksum existed) is still read
    _edit_manifest(path, lambda m: {"format": 1, "step": 3, "files": m["files"]})
    assert load_latest(tmp_path).step == 3
    # state.json disagreeing with the manifest's step (both checksummed) is caught too
    state = json.loads((path / "state.json").read_text())
    payload = json.dumps({**state, "step": 4}).encode()
    (path / "state.json").write_bytes(payload)
    _edit_manifest(
        path,
        lambda m: {
            **m,
            "files": {
                **m["files"],
                "state.json": {"sha256": hashlib.sha256(payload).hexdigest(), "bytes": len(payload)},
            },
        },
    )
    with pytest.warns(CheckpointWarning, match="step 4 disagrees with the manifest's 3"):
        assert load_latest(tmp_path) is None


def test_best_step_is_never_rotated_away(tmp_path):
    for step in (2, 4, 6, 8):
        tensors = {"model": {"w": torch.full((1,), float(step))}}
        save_checkpoint(tmp_path, step, tensors, {}, keep_last=1, keep=(4,) if step >= 4 else ())
    assert [step for step, _ in checkpoint_dirs(tmp_path)] == [8, 4]
    # a newer best: the old one goes once no kept checkpoint names it
    save_checkpoint(tmp_path, 10, {"model": {"w": torch.zeros(1)}}, {}, keep_last=2, keep=(10,))
    assert [step for step, _ in checkpoint_dirs(tmp_path)] == [10, 8, 4]  # 8 (kept) still names 4
    save_checkpoint(tmp_path, 12, {"model": {"w": torch.zeros(1)}}, {}, keep_last=2, keep=(10,))
    assert [step for step, _ in checkpoint_dirs(tmp_path)] == [12, 10]


def test_every_file_is_written_before_the_manifest_and_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    synced: list[str] = []
    real_write = checkpoint_module._write_synced

    def write_synced(path, payload):
        if path.name == "optimizer.safetensors" and path.parent.name.startswith(".step-000004"):
            raise OSError(5, "simulated I/O error")
        real_write(path, payload)  # written and fsynced
        synced.append(path.name)

    monkeypatch.setattr(checkpoint_module, "_write_synced", write_synced)
    tensors = {"model": {"w": torch.ones(2)}, "optimizer": {"m": torch.zeros(2)}, "ema": {"w": torch.ones(2)}}
    save_checkpoint(tmp_path, 3, tensors, {"data": {"epoch": 0, "offset": 3}}, keep_last=2)
    payloads = {"model.safetensors", "optimizer.safetensors", "ema.safetensors", "state.json"}
    assert set(synced[:4]) == payloads and synced[4:] == ["manifest.json"]
    assert load_latest(tmp_path).step == 3
    with pytest.raises(OSError, match="simulated I/O error"):
        save_checkpoint(tmp_path, 4, tensors, {"data": {"epoch": 0, "offset": 4}}, keep_last=2)
    assert [step for step, _ in checkpoint_dirs(tmp_path)] == [3]  # step 4 never appears, not even in part
    assert not list(tmp_path.glob(".step-*"))
