"""add_training_command: the shared arguments, the domain's own after them, one TrainingRun to the shortcut."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import typer
from typer.testing import CliRunner

from hfm.shared.cli.training import TrainingRun, add_training_command
from hfm.shared.errors import HFMError
from hfm.shared.shortcuts import RunSettings


def _app(seen: list[TrainingRun]) -> typer.Typer:
    app = typer.Typer()

    def run(training: TrainingRun):
        training.require_model("toy-mae", "toy-mae-big")
        seen.append(training)
        return SimpleNamespace(status="completed", model_dir=training.out / "model", config_path="run.yaml")

    add_training_command(app, "pretrain", run, help="Pretrain the toy.", model="toy-mae", steps=50)
    add_training_command(
        app,
        "finetune",
        run,
        help="Fine-tune the toy.",
        model="toy-mae",
        init=True,
        extra={"width": (int, typer.Option(96, help="Trunk width."))},
    )
    return app


def test_shared_and_own_options_reach_the_runner_as_one_object(tmp_path):
    seen: list[TrainingRun] = []
    app = _app(seen)
    args = ["finetune", "data", "--out", str(tmp_path), "--init", "m", "--lr", "0.01", "--set", "a=1", "--width", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"completed: model {tmp_path / 'model'}, config run.yaml"
    run = seen[0]
    assert (run.dataset, run.init, run.extra) == (Path("data"), Path("m"), {"width": 8})
    assert run.settings == RunSettings(steps=300, batch_size=32, lr=0.01, seed=0, overrides=("a=1",))
    result = CliRunner().invoke(app, ["pretrain", "data", "--out", str(tmp_path)])
    assert result.exit_code == 0 and seen[1].settings.steps == 50 and seen[1].init is None and seen[1].extra == {}


def test_help_lists_the_shared_options_and_pretrain_has_no_init(tmp_path):
    app = _app([])
    help_text = CliRunner().invoke(app, ["pretrain", "--help"]).output
    for option in ("--out", "--steps", "--batch-size", "--lr", "--model", "--seed", "--set"):
        assert option in help_text
    assert "--init" not in help_text and "Pretrain the toy." in help_text


def test_wrong_model_and_shadowed_shared_option_are_refused(tmp_path):
    result = CliRunner().invoke(_app([]), ["pretrain", "d", "--out", str(tmp_path), "--model", "resnet"])
    assert isinstance(result.exception, HFMError)
    assert "--model 'resnet': this command trains 'toy-mae', 'toy-mae-big'" in str(result.exception)
    with pytest.raises(ValueError, match="'steps' is one of the shared ones"):
        add_training_command(typer.Typer(), "pretrain", print, help="h", model="m", extra={"steps": (int, 3)})
