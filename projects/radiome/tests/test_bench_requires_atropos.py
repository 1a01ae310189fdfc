"""The radiome benchmark refuses to run without its Atropos baseline where peers are required (CI, nox -s bench)."""

from __future__ import annotations

import pytest

import hfm.radiome.benchmarks as bench
from hfm.radiome.experiments.tissue import TissueConfig
from hfm.shared.errors import HFMError
from hfm.shared.testing.peers import REQUIRED_ENV


def _no_experiment(*args, **kwargs):
    raise AssertionError("the experiment must not start")


def test_missing_antspyx_fails_before_any_training_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench, "atropos_available", lambda: "antspyx is not installed (test)")
    monkeypatch.setattr(bench, "run_tissue_experiment", _no_experiment)
    monkeypatch.setenv(REQUIRED_ENV, "1")
    with pytest.raises(HFMError, match="Atropos baseline cannot run: antspyx is not installed"):
        bench.figures(TissueConfig())


def test_missing_antspyx_is_only_noted_when_not_required_or_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(bench, "atropos_available", lambda: calls.append(True) or "antspyx is not installed (test)")
    monkeypatch.delenv(REQUIRED_ENV, raising=False)
    bench.require_baselines(TissueConfig())
    monkeypatch.setenv(REQUIRED_ENV, "1")
    bench.require_baselines(TissueConfig(atropos=False))
    bench.require_baselines(TissueConfig(baselines=False))
    assert calls == [True]  # asked once: with Atropos off there is nothing to require
