"""The domain object is the one declaration: tasks and benchmarks given there reach the registry and the harness."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from hfm.shared import plugins
from hfm.shared.plugins import DomainPlugin, InstalledDomain
from hfm.shared.train import benchmark, task

TOY = DomainPlugin(
    name="toyfield",
    summary="a domain declared in this test",
    task_factories={"toyfield-regression": "hfm.shared.train.toy:toy_regression"},
    benchmarks={"toyfield-bench": "tests_toyfield:figures"},
)


@pytest.fixture
def toy_installed(monkeypatch):
    class Installed(InstalledDomain):
        def load(self) -> DomainPlugin:
            return TOY

    entry = EntryPoint("toyfield", "tests_toyfield:plugin", "hfm.domains")
    fake = Installed(name="toyfield", distribution="hfm-toyfield", version="0", entry_point=entry)
    monkeypatch.setattr(plugins, "installed_domains", lambda: [fake])


def test_task_names_follow_from_the_factories():
    assert TOY.tasks == ("toyfield-regression",)


def test_a_task_declared_on_the_domain_object_is_built_by_name(toy_installed):
    assert "toyfield-regression" in task.available_tasks()
    built: Any = task.build_task("toyfield-regression", {"samples": 8})
    assert len(built.train_dataset()) == 8


def test_a_benchmark_declared_on_the_domain_object_is_discovered(toy_installed):
    found = {b.name: b for b in benchmark.discover()}
    assert found["toyfield-bench"].target == "tests_toyfield:figures"
    assert found["toyfield-bench"].origin == "hfm-toyfield"


def test_cli_and_hooks_given_as_targets_are_imported_only_when_used():
    import sys

    sys.modules.pop("json.tool", None)
    lazy = DomainPlugin(
        name="lazyfield",
        summary="targets instead of wrapper functions",
        cli="json.tool:main",
        hooks={"quickstart": "math:hypot", "embed": len},
    )
    assert "json.tool" not in sys.modules  # declaring imports nothing
    assert lazy.cli is not None and lazy.cli().__module__ == "json.tool"
    assert lazy.hooks["quickstart"](3.0, 4.0) == 5.0 and lazy.hooks["embed"]([1, 2]) == 2
    with pytest.raises(ValueError, match=r"'module:attribute', got 'math\.hypot'"):
        DomainPlugin(name="bad", summary="s", hooks={"quickstart": "math.hypot"})
