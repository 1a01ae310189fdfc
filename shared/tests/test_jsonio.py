"""read_model: a pydantic model from a JSON file, or one line naming the file and what is wrong with it."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from hfm.shared.errors import HFMError
from hfm.shared.jsonio import read_model


class Plan(BaseModel):
    spacing: float


def test_a_valid_file_is_read_and_a_missing_or_invalid_one_is_named(tmp_path):
    path = tmp_path / "plan.json"
    with pytest.raises(HFMError, match=r"plan\.json: missing; run fingerprint first$"):
        read_model(path, Plan, "a plan", "missing; run fingerprint first")
    path.write_text('{"spacing": 1.5}')
    assert read_model(path, Plan, "a plan", "missing") == Plan(spacing=1.5)
    path.write_text('{"spacing": "wide"}')
    with pytest.raises(HFMError, match=r"plan\.json: not a plan: 1 validation error for Plan"):
        read_model(path, Plan, "a plan", "missing")
