"""`curate_command`: the domain's own inputs and options, then the shared ones, reaching it as one request."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hfm.shared.cli.curate_command import CurateRequest, curate_command
from hfm.shared.cli.options import Raw
from hfm.shared.errors import HFMError
from hfm.shared.shard_curation import Sharding, ShardPart


def _app(seen: list, **defaults) -> typer.Typer:
    app = typer.Typer()

    @curate_command(app, shard_size=0, shard_help="Toys per shard.", **defaults)
    def curate(raw: Raw, rate: float = typer.Option(100.0, help="Hz."), *, request: CurateRequest) -> None:
        """Curate the toy."""
        seen.append((raw, rate, request))

    return app


def test_own_and_shared_options_reach_the_domain_as_one_request(tmp_path):
    seen: list = []
    args = ["raw", "--out", str(tmp_path), "--rate", "50", "--name", "toys", "--license", "CC0-1.0"]
    args += ["--creator", "A", "--creator", "B", "-q", "--shard-size", "8", "--workers", "3", "--part", "1/2"]
    result = CliRunner().invoke(_app(seen), args)
    assert result.exit_code == 0, result.output
    raw, rate, request = seen[0]
    assert (raw, rate) == (Path("raw"), 50.0)
    assert request == CurateRequest(
        out=tmp_path,
        name="toys",
        license="CC0-1.0",
        creators=["A", "B"],
        sharding=Sharding(shard_size=8, workers=3, part=ShardPart(1, 2)),
        part="1/2",
        show_progress=False,
    )
    assert (request.describe().name, request.describe().creators) == ("toys", ["A", "B"])
    assert request.line(None) == f"{tmp_path}: part 1/2 curated"


def test_name_may_default_to_what_the_domain_chooses(tmp_path):
    seen: list = []
    args = ["folder", "--out", str(tmp_path), "--license", "MIT", "--creator", "A"]
    assert CliRunner().invoke(_app(seen, name=None), args).exit_code == 0
    request = seen[0][2]
    assert request.sharding == Sharding(shard_size=None, workers=len(os.sched_getaffinity(0)))
    assert request.describe(default_name="folder").name == "folder" and request.show_progress
    with pytest.raises(HFMError, match="a licence is required"):
        CurateRequest(tmp_path, "x", " ", ["A"], Sharding(), None, True).describe()


def test_help_lists_the_shared_options_and_required_ones_are_required(tmp_path):
    app = _app([])
    help_text = CliRunner().invoke(app, ["--help"]).output
    assert "Curate the toy." in help_text
    for option in ("--out", "--rate", "--name", "--license", "--creator", "--quiet", "--shard-size", "--workers"):
        assert option in help_text
    result = CliRunner().invoke(app, ["raw", "--out", str(tmp_path), "--license", "MIT", "--creator", "A"])
    assert result.exit_code != 0 and "--name" in result.output


def test_an_own_option_shadowing_a_shared_one_is_refused():
    def curate(raw: Raw, workers: int = 2, *, request: CurateRequest) -> None: ...

    with pytest.raises(ValueError, match=r"\['workers'\] are shared options"):
        curate_command(typer.Typer(), shard_size=0, shard_help="h")(curate)
