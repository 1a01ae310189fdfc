"""The layout check of the conformance kit: required modules present, no odd top-level modules."""

from __future__ import annotations

from pathlib import Path

from hfm.shared.testing.conformance import OPTIONAL_MODULES, REQUIRED_MODULES, Violation, check_layout


def _package(tmp_path: Path, modules: list[str], packages: tuple[str, ...] = ()) -> Path:
    root = tmp_path / "mydomain"
    root.mkdir()
    for name in ["__init__", *modules]:
        (root / f"{name}.py").write_text("")
    for name in packages:
        (root / name).mkdir()
        (root / name / "__init__.py").write_text("")
    return root


def test_a_complete_layout_passes_and_packages_count_as_modules(tmp_path):
    modules = [m for m in REQUIRED_MODULES if m != "readers"] + list(OPTIONAL_MODULES)
    assert check_layout(_package(tmp_path, modules, packages=("readers",))) == []


def test_missing_and_odd_modules_are_both_named(tmp_path):
    modules = [m for m in REQUIRED_MODULES if m not in ("format", "synergy")] + ["pick_metrics2", "utils"]
    found = check_layout(_package(tmp_path, modules, packages=("helpers",)))
    assert found == [
        Violation("layout", "no module 'format'"),
        Violation("layout", "no module 'synergy'"),
        Violation("layout", "odd module 'helpers'"),
        Violation("layout", "odd module 'pick_metrics2'"),
        Violation("layout", "odd module 'utils'"),
    ]
