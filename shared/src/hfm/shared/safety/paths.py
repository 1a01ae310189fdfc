"""The path guard: every output stays inside its folder, whatever the key or file name says."""

from __future__ import annotations

import os
from pathlib import Path

from hfm.shared.errors import HFMError


def inside(root: str | Path, path: str | Path) -> bool:
    """True when `path`, with every symlink and `..` resolved, lies in `root` (or is it)."""
    root_real = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == root_real or real.startswith(root_real.rstrip(os.sep) + os.sep)


def safe_child(root: str | Path, *parts: str) -> Path:
    """`root / parts...`, refused with `HFMError` when the result would leave `root` (absolute parts, `..`)."""
    root = Path(root)
    path = root.joinpath(*parts)
    if any(Path(p).is_absolute() for p in parts) or not inside(root, path):
        raise HFMError(f"{root}: refusing to write {os.sep.join(parts)!r}, which leaves the folder")
    return path


def display_name(path: str | Path) -> str:
    """A file name as printable UTF-8 even when its bytes are not (shown as \\xNN), for reports and messages."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def is_utf8_name(path: str | Path) -> bool:
    try:
        os.fsencode(str(path)).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
