"""Listing an input folder so that every file in it is an input: read, or quarantined with its reason.

Files a reader does not handle are inputs too (`unsupported_format`), so a `.dat` among `.npz` files is counted,
not silently skipped. A symlink that leads outside the input folder is never followed (`symlink_escape`): a
hostile folder cannot make curation read `/etc/shadow` or a neighbour's data. FIFOs and devices are never opened
(reading one blocks forever).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from hfm.shared.errors import HFMError
from hfm.shared.safety.paths import display_name, inside


@dataclass(frozen=True)
class InputFile:
    path: Path
    code: str | None = None  # None: the reader takes it; otherwise why it is quarantined unread
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.code is None


def classify(path: Path, root: Path, suffixes: Collection[str] | None) -> InputFile:
    """Whether one file of `root` may be read, and if not, the quarantine code and reason."""
    if path.is_symlink():
        target = os.path.realpath(path)
        if not inside(root, target):
            return InputFile(path, "symlink_escape", f"symlink to {display_name(target)}, outside the input folder")
        if not os.path.exists(target):
            return InputFile(path, "unreadable", f"broken symlink to {display_name(target)}")
    try:
        mode = path.stat().st_mode
    except OSError as error:
        return InputFile(path, "unreadable", f"cannot stat ({error.strerror})")
    if not stat.S_ISREG(mode):
        return InputFile(path, "unsupported_format", "not a regular file (FIFO, device or socket)")
    if suffixes is not None and not _has_suffix(path.name, suffixes):
        wanted = ", ".join(sorted(suffixes))
        return InputFile(path, "unsupported_format", f"unsupported format {path.suffix or '(no suffix)'!r}; {wanted}")
    return InputFile(path)


def _has_suffix(name: str, suffixes: Collection[str]) -> bool:
    lowered = name.lower()
    return any(lowered.endswith(s.lower()) for s in suffixes)


def list_inputs(
    folder: str | Path, suffixes: Collection[str] | None = None, recursive: bool = False
) -> list[InputFile]:
    """Every entry of `folder` (sorted; recursing into real sub-folders when asked), each readable or not with why.

    Sub-folders reached through symlinks are not entered; folders themselves are not inputs.
    """
    root = Path(folder)
    if not root.is_dir():
        raise HFMError(f"{root}: not a folder")
    found: list[InputFile] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        names = sorted(filenames)
        for name in sorted(dirnames):
            if (base / name).is_symlink():
                names.append(name)  # a symlinked folder is an input we refuse, not one we walk into
        dirnames[:] = sorted(d for d in dirnames if recursive and not (base / d).is_symlink())
        for name in sorted(names):
            found.append(classify(base / name, root, suffixes))
    found.sort(key=lambda f: os.fsencode(str(f.path)))
    return found
