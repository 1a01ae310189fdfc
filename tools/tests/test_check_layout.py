import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("check_layout", Path(__file__).parent.parent / "check_layout.py")
check_layout = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_layout)


def _write(root: Path, rel: str, text: str = "") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _tree(tmp_path: Path) -> Path:
    _write(tmp_path, "shared/src/hfm/shared/core.py", "import numpy\n")
    _write(tmp_path, "projects/alpha/src/hfm/alpha/a.py", "from hfm.shared import core\n")
    _write(tmp_path, "projects/beta/src/hfm/beta/b.py", "import hfm.shared\n")
    return tmp_path


def test_clean_tree_passes(tmp_path):
    assert check_layout.check(_tree(tmp_path)) == []


def test_each_rule_is_reported_with_file_and_line(tmp_path):
    root = _tree(tmp_path)
    _write(root, "projects/alpha/src/hfm/__init__.py")
    _write(root, "shared/src/hfm/shared/bad.py", "import os\nimport xarray as xr\nfrom hfm.alpha import a\n")
    _write(root, "projects/beta/src/hfm/beta/c.py", "from hfm import alpha\n")
    problems = check_layout.check(root)
    assert len(problems) == 4, problems
    assert any("projects/alpha/src/hfm/__init__.py" in p for p in problems)
    assert any(p.startswith("shared/src/hfm/shared/bad.py:2: imports xarray") for p in problems)
    assert any(p.startswith("shared/src/hfm/shared/bad.py:3: imports hfm.alpha") for p in problems)
    assert any(p.startswith("projects/beta/src/hfm/beta/c.py:1: imports hfm.alpha") for p in problems)


def test_this_repository_follows_the_rules():
    assert check_layout.check() == []
