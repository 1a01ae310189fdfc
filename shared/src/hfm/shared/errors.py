"""Errors the CLI shows as one clear message instead of a traceback."""

from __future__ import annotations


class HFMError(Exception):
    """A user-facing failure: the message names the file, field and reason."""


class InvalidInput(HFMError):
    """An input that cannot be curated; carries the field and reason so it can be quarantined."""

    def __init__(self, reason: str, field: str = "file", code: str = "unreadable") -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.code = code
