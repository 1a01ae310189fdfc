"""Metadata tables must be UTF-8: a table in another encoding is refused with the file, line and byte named."""

from __future__ import annotations

import codecs
from pathlib import Path

from hfm.shared.errors import HFMError

_CHUNK = 1 << 20


def check_utf8_text(path: str | Path) -> None:
    """Stream the file through a strict UTF-8 decoder; `HFMError` naming where the first bad byte is."""
    path = Path(path)
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = lines = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as error:
                at = offset + error.start - len(decoder.getstate()[0])
                line = lines + chunk[: max(error.start, 0)].count(b"\n") + 1
                bad = chunk[error.start : error.start + 1].hex() if 0 <= error.start < len(chunk) else "??"
                raise HFMError(
                    f"{path}: not UTF-8 text (byte 0x{bad} at offset {max(at, 0)}, line {line}); "
                    "re-save the table as UTF-8"
                ) from None
            if not chunk:
                return
            offset += len(chunk)
            lines += chunk.count(b"\n")
