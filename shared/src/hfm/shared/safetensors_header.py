"""Deterministic safetensors bytes: the library writes its `__metadata__` map in hash order, which changes between
runs once it holds more than one key; re-curation and re-export must give the same bytes, so keys are sorted here.
"""

from __future__ import annotations

import json
import struct


def sorted_metadata(data: bytes) -> bytes:
    """The same safetensors file with its `__metadata__` keys in sorted order (tensor entries and bytes unchanged)."""
    (length,) = struct.unpack("<Q", data[:8])
    text = data[8 : 8 + length].decode("utf-8")
    header = json.loads(text)
    metadata = header.pop("__metadata__", None)
    if not metadata:
        return data
    ordered = {"__metadata__": dict(sorted(metadata.items())), **header}
    # safetensors writes compact JSON; the same content in another key order has the same length
    rewritten = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)
    if len(rewritten.encode()) != len(text.rstrip(" ").encode()):
        raise ValueError("safetensors header did not round-trip through JSON; cannot sort its metadata")
    return data[:8] + rewritten.encode().ljust(length, b" ") + data[8 + length :]
