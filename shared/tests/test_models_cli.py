"""`hfm models list|info` and `hfm evaluate --help` (in-process: each `hfm` subprocess costs seconds of imports)."""

import json

import pytest
from typer.testing import CliRunner

from hfm.shared.artifacts import ModelCard, export_model
from hfm.shared.cli.main import app, run
from hfm.shared.models.registry import create_model


def hfm(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_models_list_and_info(tmp_path):
    listed = hfm("models", "list", "trunk-*")
    assert all(f"trunk-{s}" in listed for s in ("tiny", "small", "base")) and "series-mae-tiny" not in listed
    described = json.loads(hfm("models", "info", "series-encoder-tiny"))
    # trunk-tiny plus the patch embedding of a 1-channel, 16-sample patch: 16 * 192 weights + 192 biases
    assert described["architecture"] == "encoder" and described["parameters"] == 2669568 + 16 * 192 + 192
    card = ModelCard(name="t", intended_use="x", limitations="y")
    export_model(create_model("trunk-tiny", depth=1), tmp_path / "art", {}, card)
    artifact = json.loads(hfm("models", "info", str(tmp_path / "art")))
    assert artifact["config"]["model"] == "trunk-tiny" and artifact["card"]["intended_use"] == "x"


def test_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as done:
        run(["models", "info", "series-mae-huge"])
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert "unknown model 'series-mae-huge'" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        run(["models", "list", "nothing-*"])
    assert "no registered model matches 'nothing-*'" in capsys.readouterr().err


def test_every_command_has_help():
    for command in (["models"], ["models", "list"], ["models", "info"], ["models", "export"], ["evaluate", "probe"]):
        assert "Usage" in hfm(*command, "--help"), command
