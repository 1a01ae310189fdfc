"""Model artifacts: bitwise round trip, rebuilding from JSON, cross-domain trunk loading, and no code from files."""

import json
import pickle
import subprocess
import sys

import pytest
import torch

from hfm.shared.artifacts import (
    DataCardReference,
    ModelCard,
    export_model,
    load_card,
    load_pretrained,
    read_weights,
)
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model

SMALL = {"width": 32, "depth": 2, "heads": 2}
CARD = ModelCard(
    name="test-mae",
    license="Apache-2.0",
    intended_use="unit tests",
    limitations="random weights",
    training={"steps": 3},
    metrics={"mae_loss": 0.5},
)


class MarkerOnUnpickle:
    """Unpickling this object creates a file: the payload a crafted weights file would carry."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_export_then_load_rebuilds_the_model_bitwise(tmp_path):
    torch.manual_seed(0)
    model = create_model("series-mae-tiny", channels=3, patch_len=10, **SMALL)
    out = export_model(model, tmp_path / "art", {}, CARD)
    assert {p.name for p in out.iterdir()} == {"model.safetensors", "config.json", "model_card.json", "README.md"}
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "series-mae-tiny" and config["args"] == {"channels": 3, "patch_len": 10, **SMALL}
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), framework="pt") as handle:
        header = handle.metadata()
    assert header["format"] == "pt" and header["hfm.model"] == "series-mae-tiny"
    assert header["hfm.shared_version"] == config["hfm_shared_version"] and len(header["hfm.args_sha256"]) == 64
    loaded, report = load_pretrained(out)
    assert not report.missing and not report.unused and not report.mismatched
    original, again = model.state_dict(), loaded.state_dict()
    assert original.keys() == again.keys() and all(torch.equal(original[k], again[k]) for k in original)
    x = torch.randn(2, 3, 100)
    torch.manual_seed(1)
    a = model(x).loss
    torch.manual_seed(1)
    assert torch.equal(a, loaded(x).loss)
    # exporting the loaded model writes the same bytes
    export_model(loaded, tmp_path / "again", {}, CARD)
    for name in ("model.safetensors", "config.json", "model_card.json", "README.md"):
        assert (out / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    assert load_card(out).metrics == {"mae_loss": 0.5}
    assert "## Intended use" in (out / "README.md").read_text()


def test_a_trunk_moves_between_domains_and_the_report_says_what_matched(tmp_path):
    torch.manual_seed(0)
    seismic = create_model("series-mae-tiny", channels=3, patch_len=20, **SMALL)
    export_model(seismic, tmp_path / "seismic", {}, CARD)
    images = create_model("image-encoder-tiny", channels=1, patch=4, **SMALL)
    before = images.embed.weight.clone()
    loaded, report = load_pretrained(tmp_path / "seismic", model=images)
    assert loaded is images
    assert report.mapping == "'encoder.*' -> '*'"
    trunk_keys = {k for k in images.state_dict() if k.startswith("trunk.")}
    # the patch embedding's bias has the trunk's width on both sides, so it matches by name and shape too
    assert set(report.matched) == trunk_keys | {"embed.bias"} and report.missing == []
    assert report.mismatched == [("embed.weight", (32, 60), (32, 16))]
    assert any(k.startswith("decoder") for k in report.unused) and "mask_token" in report.unused
    assert torch.equal(images.embed.weight, before)  # mismatched tensors stay as initialised
    source = seismic.state_dict()
    assert all(torch.equal(images.state_dict()[k], source[f"encoder.{k}"]) for k in trunk_keys)


def test_a_bare_trunk_fills_an_encoder_and_new_keys_are_reported(tmp_path):
    trunk = create_model("trunk-tiny", **SMALL)
    export_model(trunk, tmp_path / "trunk", {}, CARD)
    encoder = create_model("series-encoder-tiny", channels=2, patch_len=5, **SMALL)
    _, report = load_pretrained(tmp_path / "trunk", model=encoder)
    assert report.mapping == "'*' -> 'trunk.*'"
    assert len(report.matched) == len(trunk.state_dict()) and report.missing == ["embed.bias", "embed.weight"]
    assert report.summary() == f"{len(trunk.state_dict())} matched, 2 new, 0 unused (keys '*' -> 'trunk.*')"


def test_strict_load_refuses_a_partial_match(tmp_path):
    export_model(create_model("trunk-tiny", **SMALL), tmp_path / "trunk", {}, CARD)
    with pytest.raises(HFMError, match="strict load failed"):
        load_pretrained(tmp_path / "trunk", model=create_model("series-encoder-tiny", **SMALL), strict=True)


def test_a_crafted_pickle_cannot_run_code(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"weight": MarkerOnUnpickle(str(marker))})
    # As an artifact's weights file, as a torch-style .pt file, and as a bare file named .safetensors:
    art = tmp_path / "art"
    export_model(create_model("trunk-tiny", **SMALL), art, {}, CARD)
    (art / "model.safetensors").write_bytes(payload)
    config = json.loads((art / "config.json").read_text())
    config.pop("weights_sha256")  # so the loader gets as far as reading the weights
    (art / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.pt").write_bytes(payload)
    (tmp_path / "evil.safetensors").write_bytes(payload)
    model = create_model("trunk-tiny", **SMALL)
    for target, kwargs in (
        (art, {}),
        (tmp_path / "model.pt", {"model": model}),
        (tmp_path / "evil.safetensors", {"model": model}),
    ):
        with pytest.raises(HFMError, match=r"refused|not a safetensors"):
            load_pretrained(target, **kwargs)
    assert not marker.exists()
    # control: the payload is real, plain unpickling creates the marker
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import pickle,sys; pickle.loads(open(sys.argv[1],'rb').read())",
            str(tmp_path / "model.pt"),
        ],
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    assert marker.exists()


def test_damaged_or_changed_files_are_named(tmp_path):
    art = export_model(create_model("trunk-tiny", **SMALL), tmp_path / "art", {}, CARD)
    data = bytearray((art / "model.safetensors").read_bytes())
    data[-4:] = b"\xff\xff\xff\xff"
    (art / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(HFMError, match="checksum differs"):
        load_pretrained(art)
    (tmp_path / "truncated.safetensors").write_bytes(bytes(data[:50]))
    with pytest.raises(HFMError, match=r"truncated\.safetensors"):
        read_weights(tmp_path / "truncated.safetensors")
    (art / "config.json").write_text("{not json")
    with pytest.raises(HFMError, match=r"config\.json: not valid JSON"):
        load_pretrained(art)
    with pytest.raises(HFMError, match=r"config\.json: missing"):
        load_pretrained(tmp_path)


def test_model_card_requires_use_and_limits_and_references_the_data_card(tmp_path):
    with pytest.raises(ValueError, match="intended use and limitations"):
        ModelCard(name="x", intended_use=" ", limitations="none")
    (tmp_path / "card.json").write_text(json.dumps({"name": "ipoc", "version": "1.0", "license": "GPL-3.0-only"}))
    reference = DataCardReference.from_dataset(tmp_path)
    assert (reference.name, reference.license, len(reference.sha256)) == ("ipoc", "GPL-3.0-only", 64)
    with pytest.raises(HFMError, match=r"card\.json: missing"):
        DataCardReference.from_dataset(tmp_path / "nothing")


def test_safetensors_whose_header_length_starts_with_the_pickle_byte_loads(tmp_path):
    """A header of 0x680 bytes begins with 0x80, a pickle's first byte: the JSON brace must win."""
    from safetensors.torch import save_file

    from hfm.shared.artifacts import read_weights

    for pad in range(400):
        tensors = {f"w{i}": torch.zeros(1) for i in range(pad)}
        path = tmp_path / "w.safetensors"
        save_file(tensors, str(path))
        if path.read_bytes()[0] == 0x80:
            break
    else:
        raise AssertionError("no header length starting with 0x80 found")
    assert set(read_weights(path)) == set(tensors)


class _PooledRegression:
    """A registry-built encoder regressing a seeded target from its pooled embedding: exportable, with a holdout."""

    def __init__(self, options):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(48, 2, 32, generator=generator)
        self.y = self.x[:, 0].mean(dim=1) * 3

    def build_model(self):
        return create_model("series-encoder-tiny", channels=2, patch_len=4, **SMALL)

    def train_dataset(self):
        return torch.utils.data.TensorDataset(self.x, self.y)

    def loss(self, model, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(model.pooled(x)[:, 0], y), {}


def test_exported_card_records_the_validation_choice_and_wrong_kinds_are_refused(tmp_path):
    from typer.testing import CliRunner

    from hfm.shared.artifacts import export_run
    from hfm.shared.cli.main import app
    from hfm.shared.train.config import load_config
    from hfm.shared.train.task import build_task, register_task
    from hfm.shared.train.trainer import Trainer

    register_task("test-pooled-regression")(_PooledRegression)
    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path / 'run'}",
            "task.name=test-pooled-regression",
            "train.steps=6",
            "train.batch_size=8",
            "train.progress=false",
            "validation.every=2",
            "validation.holdout=0.25",
        ],
    )
    torch.set_num_threads(1)
    result = Trainer(cfg, build_task(cfg.task.name, cfg.task.options)).fit()
    best = result.selection["best_step"]
    out, _ = export_run(tmp_path / "run", tmp_path / "art", intended_use="tests", limitations="a toy target")
    card = load_card(out)
    assert card.selection["best_step"] == best and [h["step"] for h in card.selection["history"]] == [2, 4, 6]
    chosen = next(h for h in card.selection["history"] if h["step"] == best)
    assert card.metrics == {"val_loss": chosen["loss"]} and card.selection["best_score"] == chosen["loss"]
    assert f"(step {best}, chosen on validation)" in card.training["weights_from"]
    readme = (out / "README.md").read_text()
    assert "## Model selection" in readme and f"| {best} (chosen) |" in readme
    shown = json.loads(CliRunner().invoke(app, ["models", "info", str(out)], catch_exceptions=False).output)
    assert shown["card"]["selection"]["best_step"] == best
    # the exported weights are those of the chosen step, not the last
    final = read_weights(tmp_path / "run" / "final" / "model.safetensors")
    exported = read_weights(out / "model.safetensors")
    assert all(torch.equal(final[k], exported[k]) for k in final)

    # a caller that needs an MAE gets one line saying what this is instead
    with pytest.raises(HFMError) as refused:
        load_pretrained(out, expected=["series-mae-*", "image-mae-*"])
    message = str(refused.value)
    assert "\n" not in message
    assert message.endswith("is a `series-encoder-tiny` model (encoder), expected `series-mae-*` or `image-mae-*`")
    _, report = load_pretrained(out, expected="series-encoder-*")
    assert not report.missing
