"""A pooch downloader that resumes: bytes go to `<file>.part` beside the target, and a later attempt (in this run or
the next) asks the server only for the rest with an HTTP Range request.

pooch calls it as `downloader(url, output_file, pooch)` and then checks the sha256 itself; this downloader checks it
first as well, so that a wrong file is moved to the quarantine (kept for inspection, named in the error) instead of
being deleted by pooch or silently fetched again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests

from hfm.shared.catalogue.locations import DataUnavailable
from hfm.shared.errors import HFMError
from hfm.shared.hashing import sha256_file

# Small reads: urllib3 drops a partly filled read when the connection breaks, and what is written is what resumes.
CHUNK = 1 << 14
TIMEOUT_S = (10, 60)  # connect, read


# GitHub serves a file kept in Git LFS as this small pointer at raw.githubusercontent.com; the content itself lies at
# media.githubusercontent.com under the same owner/repository/commit/path.
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"
RAW_PREFIX = "https://raw.githubusercontent.com/"
MEDIA_PREFIX = "https://media.githubusercontent.com/media/"


def lfs_media_url(url: str) -> str | None:
    """Where GitHub serves the LFS content of a raw URL, or None for URLs that are not GitHub's raw ones."""
    return MEDIA_PREFIX + url.removeprefix(RAW_PREFIX) if url.startswith(RAW_PREFIX) else None


def is_lfs_pointer(path: Path) -> bool:
    return path.stat().st_size < 1024 and path.read_bytes().startswith(LFS_POINTER)


class ChecksumMismatch(HFMError):
    """A downloaded or cached file whose sha256 is not the catalogue's."""


class DownloadFailed(DataUnavailable):
    """The server could not be reached or kept dropping the connection."""


def quarantine(path: Path, cache: Path, relative: str) -> Path:
    """Move a wrong file to `<cache>/quarantine/<relative>` (numbered when one is there already); returns where."""
    target = cache / "quarantine" / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    number = 1
    while target.exists():
        target = target.with_name(f"{Path(relative).name}.{number}")
        number += 1
    shutil.move(str(path), str(target))
    return target


class ResumableDownload:
    """Downloads one catalogue file: resumes from `part`, retries dropped connections, verifies the sha256."""

    def __init__(
        self,
        relative: str,
        sha256: str,
        part: Path,
        cache: Path,
        advance: Callable[[int], None] = lambda n: None,
        attempts: int = 3,
    ) -> None:
        self.relative, self.sha256, self.part, self.cache = relative, sha256, part, cache
        self.advance, self.attempts = advance, attempts

    def __call__(self, url: str, output_file: str | Path, pooch: object = None, check_only: bool = False) -> bool:
        if check_only:  # pooch asks whether the URL exists (Pooch.is_available)
            return requests.head(url, allow_redirects=True, timeout=TIMEOUT_S).ok
        self.part.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(self.attempts):
            before = self._have()
            try:
                self._transfer(url)
                break
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError, requests.Timeout) as error:
                if self._have() == before:  # nothing arrived: offline, say so at once instead of retrying
                    raise self._failure(url, error, dropped=False) from None
                last_error = error
        else:
            raise self._failure(url, last_error, dropped=True) from None
        got = sha256_file(self.part)
        if got != self.sha256 and is_lfs_pointer(self.part) and (media := lfs_media_url(url)):
            self.part.unlink()  # the repository keeps this file in Git LFS: fetch the content, not its pointer
            return self(media, output_file, pooch)
        if got != self.sha256:
            what = "a Git LFS pointer, not the file" if is_lfs_pointer(self.part) else f"sha256 {got}"
            kept = quarantine(self.part, self.cache, self.relative)
            raise ChecksumMismatch(
                f"{self.relative}: {what} is not the catalogue's {self.sha256} (download from {url}); "
                f"the file is kept in {kept}"
            )
        shutil.move(str(self.part), str(output_file))
        return True

    def _transfer(self, url: str) -> None:
        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with requests.get(url, headers=headers, stream=True, timeout=TIMEOUT_S) as response:
            if response.status_code == 416:  # the part is already complete (or longer): start again from nothing
                self.part.unlink()
                return self._transfer(url)
            if not response.ok:
                raise DownloadFailed(f"{self.relative}: {url} answers {response.status_code} {response.reason}")
            resumed = response.status_code == 206
            with self.part.open("ab" if resumed else "wb") as out:
                for chunk in response.iter_content(CHUNK):
                    out.write(chunk)
                    self.advance(len(chunk))

    def _have(self) -> int:
        return self.part.stat().st_size if self.part.exists() else 0

    def _failure(self, url: str, error: Exception, dropped: bool) -> DownloadFailed:
        host = urlsplit(url).netloc
        kept = f"; {self._have()} bytes kept in {self.part}, the next fetch resumes" if self._have() else ""
        if dropped:
            return DownloadFailed(f"{self.relative}: the connection to {host} dropped {self.attempts} times{kept}")
        return DownloadFailed(f"{self.relative}: cannot reach {host} ({type(error).__name__}; no network?){kept}")
