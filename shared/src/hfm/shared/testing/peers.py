"""Importing a community's own tool for a peer check: skipped on a developer's machine without it, a failure in CI.

CI sets HFM_PEERS_REQUIRED=1 (the noxfile's env), so a peer check can never pass by silently not running there;
benchmarks read the same flag (`peers_required`) to stop rather than report figures without a required baseline.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

REQUIRED_ENV = "HFM_PEERS_REQUIRED"


def peers_required() -> bool:
    """True where the environment says a missing peer tool or baseline is a failure, not a skip."""
    return os.environ.get(REQUIRED_ENV) == "1"


def import_peer(module: str, how_to_install: str) -> ModuleType:
    """The peer tool's module; `pytest.skip` without it, or `pytest.fail` naming the install step when required."""
    import pytest  # here, not at the top: benchmarks import `peers_required` without pytest installed

    try:
        return importlib.import_module(module)
    except ImportError as error:
        message = f"peer tool {module!r} is not importable ({error}); install it: {how_to_install}"
        if peers_required():
            pytest.fail(message)
        pytest.skip(message)
