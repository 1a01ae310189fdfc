"""A curated plankton shard's files as training reads them: its EcoTaxa TSV and its images, either loose in the shard
folder or packed into the shard's one uncompressed zip (`hfm plankton curate --pack`, issue 18 items 6 and 7).

A packed shard's zip is opened once per shard and its members read by name, the TSV first and then each image in
the table's order; the bytes are those of the loose files, so both layouts stream the same items. A corrupt or
truncated zip raises `HFMError` naming the zip, instead of zipfile's bare message.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Protocol

from hfm.plankton.format import PACKED_NAME, TSV_NAME
from hfm.shared.errors import HFMError

# What zipfile raises on a damaged archive: a bad header or CRC (BadZipFile), a cut-off member (EOFError), a name
# the directory lacks (KeyError), an unreadable file (OSError), an impossible size or offset (ValueError).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, OSError, ValueError)


class ShardFiles(Protocol):
    source: Path  # the file an error names

    def table(self) -> IO[str]:
        """The shard's TSV as text, newlines untranslated (for the csv module)."""
        ...

    def image(self, name: str) -> bytes:
        """The bytes of the image at `name`, relative to the shard (the TSV's `img_file_name`)."""
        ...


class LooseShard:
    """A shard folder holding the TSV and an `images/` folder: plain file reads, as before packing existed."""

    def __init__(self, shard: Path) -> None:
        self.shard = shard
        self.source = shard / TSV_NAME

    def table(self) -> IO[str]:
        return open(self.source, encoding="utf-8", newline="")

    def image(self, name: str) -> bytes:
        return (self.shard / name).read_bytes()


class PackedShard:
    """A shard whose TSV and images are members of one zip, read through a single open handle."""

    def __init__(self, archive: zipfile.ZipFile, source: Path) -> None:
        self.archive, self.source = archive, source

    def table(self) -> IO[str]:
        return io.StringIO(self._member(TSV_NAME).decode("utf-8"), newline="")

    def image(self, name: str) -> bytes:
        return self._member(name)

    def _member(self, name: str) -> bytes:
        try:
            return self.archive.read(name)  # checks the member's CRC: damaged bytes fail here, not in the decoder
        except ZIP_ERRORS as error:
            raise HFMError(f"{self.source}: cannot read {name!r} from the packed shard ({error!r})") from error


@contextmanager
def open_shard(shard: Path) -> Iterator[ShardFiles]:
    """The shard's files, packed if the shard holds `PACKED_NAME`, else loose; a zip stays open until exit."""
    packed = shard / PACKED_NAME
    if not packed.is_file():
        yield LooseShard(shard)
        return
    try:
        archive = zipfile.ZipFile(packed)
    except ZIP_ERRORS as error:
        raise HFMError(f"{packed}: not a readable packed plankton shard ({error!r})") from error
    with archive:
        yield PackedShard(archive, packed)
