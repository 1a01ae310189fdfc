"""CI and developer sessions. Every session installs through constraints.txt, which pins torch to the CPU build.

nox -t ci            lint, layout, and every package's tests, each package alone in its own venv
nox -s tests-seismic one package's tests
nox -s quickstart    the main job: every domain end to end on the real data that ships with the registries
"""

from __future__ import annotations

import os
import re
import shutil
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = str(ROOT / "constraints.txt")
SHARED_DATA = os.environ.get("HFM_SHARED_DATA", str(ROOT.parent / "shared" / "data"))


def _workspace() -> dict[str, tuple[str, tuple[str, ...]]]:
    """package name -> (folder, the workspace folders its tests need installed), from [tool.hfm.workspace] members.

    Adding a domain is one line in pyproject.toml's member list: its tests session, and the dependencies it needs
    installed beside it (its `hfm-*` requirements, transitively), follow from its own pyproject.toml.
    """
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hfm"]["workspace"]["members"]
    projects = {folder: tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"] for folder in members}
    by_dist = {project["name"]: folder for folder, project in projects.items()}

    def direct(folder: str) -> list[str]:
        names = (re.split(r"[\s<>=!~\[;]", dep, maxsplit=1)[0] for dep in projects[folder].get("dependencies", []))
        return [by_dist[n] for n in names if n in by_dist]

    def closure(folder: str) -> tuple[str, ...]:
        seen: list[str] = []
        stack = direct(folder)
        while stack:
            dep = stack.pop(0)
            if dep not in seen:
                seen.append(dep)
                stack += direct(dep)
        return tuple(sorted(seen, key=members.index))

    return {Path(folder).name.lstrip("_"): (folder, closure(folder)) for folder in members}


PACKAGES = _workspace()
# Folders starting with "_" (the domain template) are tested but never installed beside the real domains.
DOMAIN_FOLDERS = [folder for folder, _ in PACKAGES.values() if not Path(folder).name.startswith("_")]

# Real data packages whose own pins would pull heavy stacks (planktonclas pins TensorFlow): installed --no-deps
# into the sessions that read them.
DATA_ONLY = {"plankton": ("planktonclas==0.2.4",), "synergy": ("planktonclas==0.2.4",)}
# Peer tools whose own dependencies would pull CUDA-only stacks (nnunetv2 -> dynamic-network-architectures ->
# torchvision, timm): installed --no-deps with exactly what their checks import, so the peer check runs in CI.
PEER_TOOLS_NO_DEPS = {
    "radiome": (
        "nnunetv2==2.8.1",
        "batchgenerators==0.25.5",
        "acvl_utils==0.2.6",
        "SimpleITK==2.5.7",
        "blosc2==4.14.1",
        "numexpr==2.14.2",
        "msgpack==1.2.4",
        "ndindex==1.10.1",
        "httpx==0.28.1",
    ),
}
# Debian packages holding real test data, installed by tools/system_packages.sh where possible (root, apt).
SYSTEM_DATA = {"radiome": ("insighttoolkit5-examples",), "synergy": ("insighttoolkit5-examples",)}
# Extras of the full install (quickstart, bench): seisbench for the PhaseNetLight peer, IFCB and annotation assist.
EXTRAS = {"projects/seismic": "[test]", "projects/plankton": "[ifcb,assist]"}
EVERYTHING = tuple(f"./{folder}{EXTRAS.get(folder, '')}" for folder in DOMAIN_FOLDERS)
# Baselines only the benchmark runs: N4 + Atropos (antspyx) for radiome's tissue benchmark. Kept out of the
# quickstart because antspyx pins numpy < 2.4 and scipy < 1.16 for the whole venv.
BENCH_ONLY = ("./projects/radiome[atropos]",)

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "layout", *(f"tests-{name}" for name in PACKAGES)]


def install(session: nox.Session, *args: str) -> None:
    session.install("-c", CONSTRAINTS, *args)


def install_everything(session: nox.Session, *extra: str) -> None:
    install(session, *EVERYTHING, *extra)  # one resolve: extras' pins (antspyx's numpy < 2.4) apply to everything
    session.install("--no-deps", *DATA_ONLY["plankton"])
    session.run("bash", "tools/system_packages.sh", *SYSTEM_DATA["radiome"], external=True)


def release_venv(session: nox.Session) -> None:
    """Delete a passed session's venv where HFM_NOX_RELEASE_VENVS=1 (.ci/run sets it).

    Why: every session holds its own torch and stack; a CI clone that kept all ten venvs used ~14 GB and once ran out of
    disk ("No space left on device"). A failed session keeps its venv for inspection.
    """
    if os.environ.get("HFM_NOX_RELEASE_VENVS") == "1":
        shutil.rmtree(session.virtualenv.location, ignore_errors=True)


def env() -> dict[str, str]:
    # HFM_PEERS_REQUIRED: a peer check whose tool is missing fails instead of skipping (hfm.shared.testing.peers).
    return {"HFM_SHARED_DATA": SHARED_DATA, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "HFM_PEERS_REQUIRED": "1"}


@nox.session(tags=["ci"])
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    install(session, "ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    release_venv(session)


@nox.session(tags=["ci"])
def layout(session: nox.Session) -> None:
    """Dependency direction and namespace rules (tools/check_layout.py), with the checker's own tests."""
    install(session, "pytest>=8", "nox")
    session.run("python", "tools/check_layout.py")
    session.run("pytest", "-q", "tools/tests")
    release_venv(session)


def _tests(name: str):
    folder, needs = PACKAGES[name]

    def session_fn(session: nox.Session) -> None:
        # Only this package, its declared dependencies and the workspace packages it names: an undeclared import fails.
        install(session, *(f"./{n}" for n in needs), f"./{folder}[test]")
        if name in DATA_ONLY:
            session.install("--no-deps", *DATA_ONLY[name])
        if name in PEER_TOOLS_NO_DEPS:
            session.install("--no-deps", *PEER_TOOLS_NO_DEPS[name])
        if name in SYSTEM_DATA:
            session.run("bash", "tools/system_packages.sh", *SYSTEM_DATA[name], external=True)
        session.run("pytest", "-q", f"{folder}/tests", *session.posargs, env=env())
        release_venv(session)

    session_fn.__doc__ = f"Tests of hfm-{name} in a venv holding only it and its declared dependencies."
    return session_fn


for _name in PACKAGES:
    nox.session(name=f"tests-{_name}", tags=["ci", "tests"])(_tests(_name))


@nox.session
def quickstart(session: nox.Session) -> None:
    """The main job: install every package and run `hfm quickstart` (offline, embedded defaults)."""
    install_everything(session)
    session.run("hfm", "quickstart", *session.posargs, env=env())


@nox.session
def bench(session: nox.Session) -> None:
    """Every benchmark of every workspace package (tools/bench.py): writes benchmarks/results.json and results.md."""
    install_everything(session, *BENCH_ONLY)
    session.run("python", "tools/bench.py", "--out", "benchmarks", *session.posargs, env=env())


@nox.session(tags=["ci"])
def slurm(session: nox.Session) -> None:
    """Training and sharded curation (an array) through `hfm launch` on a real single-node SLURM cluster; needs root."""
    if os.geteuid() != 0:
        session.skip("starts slurmctld/slurmd as root (CI runs as root): sudo nox -s slurm")
    install(session, "./shared[test]", "./projects/_template")  # the curation array test curates with the template
    session.run("bash", "tools/slurm_cluster.sh", "start", external=True)
    try:
        session.run("pytest", "-q", "tools/tests_slurm", *session.posargs, env={**env(), "HFM_SLURM_REQUIRED": "1"})
    finally:
        session.run("bash", "tools/slurm_cluster.sh", "stop", external=True)
    release_venv(session)
