"""CI and developer sessions. Every session installs through constraints.txt, which pins torch to the CPU build.

nox -t ci            lint, layout, and every package's tests, each package alone in its own venv
nox -s tests-seismic one package's tests
nox -s quickstart    the main job: every domain end to end on the real data that ships with the registries
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = str(ROOT / "constraints.txt")
SHARED_DATA = os.environ.get("HFM_SHARED_DATA", str(ROOT.parent / "shared" / "data"))

# package name -> (folder, the other workspace folders its tests need installed)
PACKAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "shared": ("shared", ()),
    "seismic": ("projects/seismic", ("shared",)),
    "radiome": ("projects/radiome", ("shared",)),
    "climate": ("projects/climate", ("shared",)),
    "plankton": ("projects/plankton", ("shared",)),
    "synergy": (
        "packages/synergy",
        ("shared", "projects/seismic", "projects/radiome", "projects/climate", "projects/plankton"),
    ),
}

# Real data packages whose own pins would pull heavy stacks (planktonclas pins TensorFlow): installed --no-deps
# into the sessions that read them.
DATA_ONLY = {"plankton": ("planktonclas==0.2.4",), "synergy": ("planktonclas==0.2.4",)}
# Debian packages holding real test data, installed by tools/system_packages.sh where possible (root, apt).
SYSTEM_DATA = {"radiome": ("insighttoolkit5-examples",), "synergy": ("insighttoolkit5-examples",)}
EVERYTHING = (
    "./shared",
    "./projects/seismic[test]",  # seisbench: the PhaseNetLight peer and the loader comparison
    "./projects/radiome",
    "./projects/climate",
    "./projects/plankton[ifcb,assist]",
    "./packages/synergy",
)

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "layout", *(f"tests-{name}" for name in PACKAGES)]


def install(session: nox.Session, *args: str) -> None:
    session.install("-c", CONSTRAINTS, *args)


def install_everything(session: nox.Session) -> None:
    install(session, *EVERYTHING)
    session.install("--no-deps", *DATA_ONLY["plankton"])
    session.run("bash", "tools/system_packages.sh", *SYSTEM_DATA["radiome"], external=True)


def env() -> dict[str, str]:
    return {"HFM_SHARED_DATA": SHARED_DATA, "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}


@nox.session(tags=["ci"])
def lint(session: nox.Session) -> None:
    """ruff over the whole repository."""
    install(session, "ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(tags=["ci"])
def layout(session: nox.Session) -> None:
    """Dependency direction and namespace rules (tools/check_layout.py), with the checker's own tests."""
    install(session, "pytest>=8", "nox")
    session.run("python", "tools/check_layout.py")
    session.run("pytest", "-q", "tools/tests")


def _tests(name: str):
    folder, needs = PACKAGES[name]

    def session_fn(session: nox.Session) -> None:
        # Only this package, its declared dependencies and the workspace packages it names: an undeclared import fails.
        install(session, *(f"./{n}" for n in needs), f"./{folder}[test]")
        if name in DATA_ONLY:
            session.install("--no-deps", *DATA_ONLY[name])
        if name in SYSTEM_DATA:
            session.run("bash", "tools/system_packages.sh", *SYSTEM_DATA[name], external=True)
        session.run("pytest", "-q", f"{folder}/tests", *session.posargs, env=env())

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
    install_everything(session)
    session.run("python", "tools/bench.py", "--out", "benchmarks", *session.posargs, env=env())


@nox.session(tags=["ci"])
def slurm(session: nox.Session) -> None:
    """Training through `hfm launch` on a real single-node SLURM cluster (tools/slurm_cluster.sh); needs root."""
    if os.geteuid() != 0:
        session.skip("starts slurmctld/slurmd as root (CI runs as root): sudo nox -s slurm")
    install(session, "./shared[test]")
    session.run("bash", "tools/slurm_cluster.sh", "start", external=True)
    try:
        session.run("pytest", "-q", "tools/tests_slurm", *session.posargs, env={**env(), "HFM_SLURM_REQUIRED": "1"})
    finally:
        session.run("bash", "tools/slurm_cluster.sh", "stop", external=True)
