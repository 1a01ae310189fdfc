"""Deterministic JSON and atomic writes: the same object always gives the same bytes on disk."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, TypeVar

from hfm.shared.errors import HFMError


class JsonModel(Protocol):
    """A pydantic model class, as far as reading one from JSON goes."""

    @classmethod
    def model_validate_json(cls, json_data: str) -> Any: ...


Model = TypeVar("Model", bound=JsonModel)


def read_model(path: Path, model: type[Model], what: str, missing: str) -> Model:
    """`model` read from the JSON file `path`, or HFMError naming the file: `missing` says what to do where there
    is none, `what` what the file should have been where it does not validate."""
    if not path.is_file():
        raise HFMError(f"{path}: {missing}")
    try:
        return model.model_validate_json(path.read_text())
    except ValueError as error:
        raise HFMError(f"{path}: not {what}: {error}") from error


def dump_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomic(path: str | Path, data: bytes | str) -> None:
    """Write to a temporary name in the same folder, fsync, then rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
