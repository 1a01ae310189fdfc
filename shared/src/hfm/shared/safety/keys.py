"""Sample keys as file names: one sanitiser, and a registry that refuses two keys becoming one name.

Keys come from users' files (EcoTaxa `object_id`, seismic `event_id`, file stems) and become file names in the
dataset and in quarantine. Two different keys that sanitise to the same name (`col a` / `col_a`, or `A` / `a` on a
case-insensitive file system) would overwrite each other; the registry reports the second as a collision instead.
"""

from __future__ import annotations

import hashlib
import os
import re

from hfm.shared.errors import InvalidInput

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_KEY_LENGTH = 200  # file systems allow 255 bytes per name; leave room for suffixes


def safe_key(key: str) -> str:
    """A key usable as one file name on every file system: other characters become `_`, no leading dots.

    Raises `InvalidInput` (code `bad_key`) when nothing usable is left, e.g. for `___` or `../..`.
    """
    cleaned = _UNSAFE.sub("_", str(key)).strip("._-")
    if not cleaned:
        raise InvalidInput(f"key {key!r} has no letters or digits to name a file by", field="key", code="bad_key")
    if len(cleaned) > MAX_KEY_LENGTH:
        digest = hashlib.sha256(str(key).encode("utf-8", "surrogateescape")).hexdigest()[:12]
        cleaned = f"{cleaned[: MAX_KEY_LENGTH - 13]}-{digest}"
    return cleaned


class KeyRegistry:
    """Remembers which raw key took each sanitised name (case-folded, as macOS and Windows compare names)."""

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}

    def claim(self, key: str) -> str:
        """The sanitised name for `key`; `InvalidInput` if it is empty, not UTF-8, a repeat, or another key's name.

        A key from a file name that is not UTF-8 (Latin-1 bytes on Linux) cannot go into the UTF-8 metadata tables
        without changing; it is quarantined with the name shown as escapes, never a crash at the end of the run.
        """
        try:
            str(key).encode("utf-8")
        except UnicodeEncodeError:
            shown = os.fsencode(str(key)).decode("utf-8", "backslashreplace")
            raise InvalidInput(
                f"key {shown!r} comes from a name that is not UTF-8; rename the file", field="key", code="bad_key"
            ) from None
        name = safe_key(key)
        owner = self._owner.get(name.casefold())
        if owner is not None:
            if owner == key:
                raise InvalidInput(f"key {key!r} seen before", field="key", code="duplicate")
            raise InvalidInput(
                f"key {key!r} becomes the file name {name!r}, already taken by key {owner!r}",
                field="key",
                code="key_collision",
            )
        self._owner[name.casefold()] = key
        return name

    def claimed(self) -> list[tuple[str, str]]:
        """(case-folded file name, raw key) of every claim, sorted: shards' lists merge into one collision check."""
        return sorted(self._owner.items())
