#!/usr/bin/env python3
"""Check the monorepo's dependency rules (see ../shared/DESIGN.md):

- no `hfm/__init__.py` anywhere: `hfm` is a PEP 420 namespace shared by all distributions;
- `hfm.shared` imports no project and none of the domain libraries;
- a project (`projects/<name>`) never imports another project nor `hfm.synergy`.

Exit status 1 with one line per violation: file, line, import, rule.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_LIBRARIES = {
    "obspy",
    "seisbench",
    "monai",
    "nibabel",
    "pydicom",
    "xarray",
    "zarr",
    "cfgrib",
    "netCDF4",
    "scanpy",
    "anndata",
    "skimage",
    "PIL",
}
SKIP = {".nox", ".git", ".venv", ".ci-venv", "build", "dist", "__pycache__"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "hfm":  # from hfm import seismic
                found += [(node.lineno, f"hfm.{alias.name}") for alias in node.names]
    return found


def python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if not SKIP & set(p.relative_to(folder).parts))


def check(root: Path = ROOT) -> list[str]:
    problems = []
    for init in root.rglob("hfm/__init__.py"):
        if not SKIP & set(init.relative_to(root).parts):
            problems.append(f"{init.relative_to(root)}: hfm is a namespace package; remove this file")
    projects = (
        sorted(p.name for p in (root / "projects").iterdir() if p.is_dir()) if (root / "projects").exists() else []
    )
    rules: list[tuple[Path, set[str], str]] = [
        (
            root / "shared",
            {f"hfm.{p}" for p in projects} | {"hfm.synergy"} | DOMAIN_LIBRARIES,
            "hfm.shared must not import projects or domain libraries",
        ),
    ]
    for project in projects:
        others = {f"hfm.{p}" for p in projects if p != project} | {"hfm.synergy"}
        rules.append((root / "projects" / project, others, f"hfm.{project} must not import other projects"))
    for folder, forbidden, rule in rules:
        if not folder.exists():
            continue
        for path in python_files(folder):
            for line, module in imported_modules(path):
                hit = next((f for f in forbidden if module == f or module.startswith(f + ".")), None)
                if hit:
                    problems.append(f"{path.relative_to(root)}:{line}: imports {module} ({rule})")
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    print(f"layout: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
