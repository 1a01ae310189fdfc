"""Typed options for tasks and commands: a dataclass per task, built from the dict of a run config.

A misspelt key must never be ignored (`sampels: 400` silently training on the default is how a night of cluster time
is lost), so unknown keys are refused with the key's name and the allowed ones, and values are converted to the
field's type with an error naming the key. Options serialise back to a plain dict, so a run can write the YAML it ran
and `hfm train` can replay it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from hfm.shared.errors import HFMError

T = TypeVar("T")


def parse_options(cls: type[T], raw: Mapping[str, Any] | None, where: str) -> T:
    """`cls(**raw)` with unknown keys refused and each value converted to its field's type.

    `where` names the place in messages, e.g. "task seismic-mae". Keys without a default are required.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    raw = dict(raw or {})
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise HFMError(
            f"{where}: unknown option {unknown[0]!r}"
            + (f" (and {', '.join(repr(k) for k in unknown[1:])})" if len(unknown) > 1 else "")
            + f"; allowed: {', '.join(sorted(fields))}"
        )
    missing = [
        name
        for name, f in fields.items()
        if name not in raw and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise HFMError(f"{where}: option {missing[0]!r} is required")
    hints = typing.get_type_hints(cls)
    values = {name: _convert(value, hints[name], f"{where}: option {name!r}") for name, value in raw.items()}
    return cls(**values)


def options_dict(options: Any) -> dict[str, Any]:
    """The options as plain YAML-ready values (paths as strings), the inverse of `parse_options`."""
    return {key: _plain(value) for key, value in dataclasses.asdict(options).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        choices = typing.get_args(hint)
        if value is None and type(None) in choices:
            return None
        errors = []
        for choice in choices:
            if choice is type(None):
                continue
            try:
                return _convert(value, choice, where)
            except HFMError as error:
                errors.append(str(error))
        raise HFMError(errors[0] if errors else f"{where}: {value!r} does not fit {hint}")
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise HFMError(f"{where}: {value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if hint is Any:
        return value
    if origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise HFMError(f"{where}: expected a mapping, got {type(value).__name__}")
        return dict(value)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise HFMError(f"{where}: expected a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        converted = [_convert(v, item, where) for v in value]
        return tuple(converted) if origin is tuple else converted
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise HFMError(f"{where}: expected true or false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise HFMError(f"{where}: expected a number, got {value!r}")
        try:
            number = hint(value)
        except ValueError:
            raise HFMError(f"{where}: expected {hint.__name__}, got {value!r}") from None
        if hint is int and isinstance(value, float) and value != number:
            raise HFMError(f"{where}: expected a whole number, got {value!r}")
        return number
    if hint is str:
        if not isinstance(value, str | Path):
            raise HFMError(f"{where}: expected text, got {value!r}")
        return str(value)
    if hint is Path:
        if not isinstance(value, str | Path):
            raise HFMError(f"{where}: expected a path, got {value!r}")
        return Path(value)
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise HFMError(f"{where}: {value!r} does not fit {getattr(hint, '__name__', hint)}")
