"""import_peer: the module when present; a skip locally and a failure in CI when absent."""

from __future__ import annotations

import pytest

from hfm.shared.testing.peers import REQUIRED_ENV, import_peer


def test_present_module_is_returned():
    assert import_peer("json", "stdlib").dumps([1]) == "[1]"


def test_missing_module_skips_without_the_ci_flag(monkeypatch):
    monkeypatch.delenv(REQUIRED_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="pip install nope"):
        import_peer("hfm_no_such_peer_tool", "pip install nope")


def test_missing_module_fails_in_ci(monkeypatch):
    monkeypatch.setenv(REQUIRED_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="'hfm_no_such_peer_tool' is not importable"):
        import_peer("hfm_no_such_peer_tool", "pip install nope")
