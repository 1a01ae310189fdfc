"""Where the image bytes of a plankton table come from: a folder, a zip archive, or an instrument's own files.

Every image path of a table is resolved through a store, which refuses any path that would leave the dataset
(absolute paths, `..`): an export must not make us read files that are not part of it.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from typing import Protocol

from hfm.shared.errors import InvalidInput
from hfm.shared.safety.budget import current_budget
from hfm.shared.safety.paths import inside


def safe_relative(image_path: str) -> str:
    """The normalised relative POSIX path, or InvalidInput(path_escape) when it points outside the dataset."""
    text = str(image_path).replace("\\", "/")
    normal = posixpath.normpath(text)
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or normal == ".." or normal.startswith("../"):
        raise InvalidInput(f"{image_path!r} points outside the dataset folder", field="image_path", code="path_escape")
    return normal


class ImageStore(Protocol):
    def read(self, image_path: str) -> bytes: ...

    def source(self, image_path: str) -> Path:
        """The file to cite (and copy into quarantine) for this image."""
        ...


class FolderStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def source(self, image_path: str) -> Path:
        return self.root / safe_relative(image_path)

    def checked_file(self, image_path: str) -> Path:
        """The image's file after every check `read` makes: inside the folder, present, within the size budget."""
        path = self.source(image_path)
        if not inside(self.root, path):  # a symlink in the export leading elsewhere is not followed
            reason = f"{image_path!r} is a symlink leading outside the dataset folder"
            raise InvalidInput(reason, field="image_path", code="symlink_escape")
        if not path.is_file():
            raise InvalidInput(f"{path}: image file not found", field="image_path", code="missing")
        size = path.stat().st_size
        current_budget().check_decoded(size, f"{path.name} ({size} bytes on disk)")
        return path

    def read(self, image_path: str) -> bytes:
        return self.checked_file(image_path).read_bytes()


class ZipStore:
    """Images inside a zip archive, relative to `prefix` (the folder of the TSV inside the archive)."""

    def __init__(self, archive: Path, prefix: str = "") -> None:
        self.archive = Path(archive)
        self.prefix = prefix.strip("/")
        with zipfile.ZipFile(self.archive) as handle:
            self._names = set(handle.namelist())

    def source(self, image_path: str) -> Path:
        return self.archive

    def read(self, image_path: str) -> bytes:
        member = posixpath.join(self.prefix, safe_relative(image_path)) if self.prefix else safe_relative(image_path)
        if member not in self._names:
            raise InvalidInput(f"{self.archive}: no member {member!r}", field="image_path", code="missing")
        with zipfile.ZipFile(self.archive) as handle:
            size = handle.getinfo(member).file_size  # from the zip header, before inflating
            current_budget().check_decoded(size, f"{self.archive.name}!{member}")
            return handle.read(member)
