"""Data contracts: declarative descriptions of one sample and of a metadata table.

A contract never answers with a bare bool: `validate` returns every violation it finds, each naming the field and
the reason, so a curator can quarantine an input with an explanation a scientist can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

# dtype names that stand for a family rather than one exact dtype.
_DTYPE_KINDS = {"floating": np.floating, "integer": np.integer, "number": np.number, "bool": np.bool_}
# How many offending rows a table check names before it only counts them.
_MAX_ROWS_NAMED = 5


class Violation(BaseModel):
    """One reason why an input does not meet its contract."""

    model_config = ConfigDict(frozen=True)

    field: str
    code: str  # machine-readable kind: missing, dtype, shape, nan, inf, range, units, unreadable, ...
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ArraySpec(BaseModel):
    """A named array in a sample.

    `shape` entries are an int (fixed), None (free) or a symbol such as "time" that must take the same size in every
    array of the sample that uses it.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    dims: list[str]
    dtype: str = "float32"
    shape: list[int | str | None]
    units: str | None = None
    min: float | None = None
    max: float | None = None
    nan_policy: Literal["forbid", "allow"] = "forbid"
    max_nan_fraction: float = Field(default=1.0, ge=0.0, le=1.0)
    allow_inf: bool = False
    optional: bool = False
    description: str = ""

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        if value not in _DTYPE_KINDS:
            try:
                np.dtype(value)
            except TypeError as error:
                raise ValueError(f"unknown dtype {value!r}") from error
        return value

    def model_post_init(self, __context: Any) -> None:
        if len(self.dims) != len(self.shape):
            raise ValueError(f"array {self.name!r}: {len(self.dims)} dims but {len(self.shape)} shape entries")

    def dtype_matches(self, dtype: np.dtype) -> bool:
        if self.dtype in _DTYPE_KINDS:
            return bool(np.issubdtype(dtype, _DTYPE_KINDS[self.dtype]))
        return np.dtype(self.dtype) == dtype


@dataclass
class Sample:
    """One input as a domain reader hands it to the core: named arrays, their units, and metadata."""

    arrays: dict[str, np.ndarray]
    units: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)


class SampleContract(BaseModel):
    """What every sample of a dataset must look like."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str = "1"
    arrays: list[ArraySpec]
    allow_extra_arrays: bool = False

    def spec(self, name: str) -> ArraySpec:
        for spec in self.arrays:
            if spec.name == name:
                return spec
        raise KeyError(f"contract {self.name!r} has no array {name!r}")

    def validate_sample(self, sample: Sample | Mapping[str, np.ndarray]) -> list[Violation]:
        if not isinstance(sample, Sample):
            sample = Sample(arrays=dict(sample))
        violations: list[Violation] = []
        symbols: dict[str, tuple[int, str]] = {}
        for spec in self.arrays:
            if spec.name not in sample.arrays:
                if not spec.optional:
                    violations.append(Violation(field=spec.name, code="missing", reason="required array is missing"))
                continue
            violations += _check_array(spec, np.asarray(sample.arrays[spec.name]), sample.units, symbols)
        if not self.allow_extra_arrays:
            known = {spec.name for spec in self.arrays}
            for name in sorted(set(sample.arrays) - known):
                violations.append(Violation(field=name, code="unexpected", reason="array not declared in contract"))
        return violations


def _check_array(
    spec: ArraySpec, array: np.ndarray, units: Mapping[str, str], symbols: dict[str, tuple[int, str]]
) -> list[Violation]:
    out: list[Violation] = []
    name = spec.name
    if not spec.dtype_matches(array.dtype):
        out.append(
            Violation(field=name, code="dtype", reason=f"dtype {array.dtype} but contract requires {spec.dtype}")
        )
    if array.ndim != len(spec.shape):
        out.append(
            Violation(
                field=name,
                code="shape",
                reason=f"{array.ndim} dimensions {array.shape} but contract requires {len(spec.shape)} "
                f"({', '.join(spec.dims)})",
            )
        )
    else:
        for axis, (dim, want, got) in enumerate(zip(spec.dims, spec.shape, array.shape, strict=True)):
            if isinstance(want, int) and want != got:
                out.append(
                    Violation(field=name, code="shape", reason=f"axis {axis} ({dim}) has size {got}, expected {want}")
                )
            elif isinstance(want, str):
                seen = symbols.setdefault(want, (got, name))
                if seen[0] != got:
                    out.append(
                        Violation(
                            field=name,
                            code="shape",
                            reason=f"axis {axis} ({dim}) has size {got} but {seen[1]!r} gives {want}={seen[0]}",
                        )
                    )
    if spec.units is not None and name in units and units[name] != spec.units:
        out.append(
            Violation(field=name, code="units", reason=f"units {units[name]!r} but contract requires {spec.units!r}")
        )
    if array.size == 0:
        out.append(Violation(field=name, code="empty", reason="array has no elements"))
        return out
    if np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.complexfloating):
        nan = np.isnan(array)
        n_nan = int(nan.sum())
        if n_nan:
            fraction = n_nan / array.size
            if spec.nan_policy == "forbid":
                out.append(
                    Violation(field=name, code="nan", reason=f"{n_nan} NaN values of {array.size} (NaN forbidden)")
                )
            elif fraction > spec.max_nan_fraction:
                out.append(
                    Violation(
                        field=name,
                        code="nan",
                        reason=f"NaN fraction {fraction:.3g} above allowed {spec.max_nan_fraction:.3g}",
                    )
                )
        n_inf = int(np.isinf(array).sum())
        if n_inf and not spec.allow_inf:
            out.append(Violation(field=name, code="inf", reason=f"{n_inf} infinite values"))
        finite = array[np.isfinite(array)]
    elif np.issubdtype(array.dtype, np.number):
        finite = array
    else:
        finite = None
    if finite is not None and finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if spec.min is not None and lo < spec.min:
            out.append(Violation(field=name, code="range", reason=f"minimum {lo:.6g} below allowed {spec.min:.6g}"))
        if spec.max is not None and hi > spec.max:
            out.append(Violation(field=name, code="range", reason=f"maximum {hi:.6g} above allowed {spec.max:.6g}"))
    return out


ColumnType = Literal["int", "float", "str", "bool", "datetime"]


class ColumnSpec(BaseModel):
    """One column of a metadata table."""

    model_config = ConfigDict(extra="forbid")

    name: str
    dtype: ColumnType = "str"
    required: bool = True
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None
    pattern: str | None = None
    unique: bool = False
    units: str | None = None
    description: str = ""


class TableContract(BaseModel):
    """Required columns of a metadata table, with types, ranges and allowed values."""

    model_config = ConfigDict(extra="forbid")

    name: str
    columns: list[ColumnSpec]

    def validate_table(self, table: pd.DataFrame) -> list[Violation]:
        violations: list[Violation] = []
        for spec in self.columns:
            if spec.name not in table.columns:
                if spec.required:
                    violations.append(Violation(field=spec.name, code="missing", reason="required column is missing"))
                continue
            violations += _check_column(spec, table[spec.name])
        return violations


def _rows(index: pd.Index) -> str:
    named = ", ".join(str(i) for i in index[:_MAX_ROWS_NAMED])
    more = f" and {len(index) - _MAX_ROWS_NAMED} more" if len(index) > _MAX_ROWS_NAMED else ""
    return f"row{'s' if len(index) > 1 else ''} {named}{more}"


def _check_column(spec: ColumnSpec, column: pd.Series) -> list[Violation]:
    out: list[Violation] = []
    name = spec.name
    null = column.isna()
    if null.any() and not spec.nullable:
        out.append(Violation(field=name, code="null", reason=f"empty values in {_rows(column.index[null])}"))
    values = column[~null]
    if spec.dtype in ("int", "float"):
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna()
        if bad.any():
            out.append(Violation(field=name, code="dtype", reason=f"not a number in {_rows(values.index[bad])}"))
        if spec.dtype == "int":
            fractional = numeric.notna() & (numeric % 1 != 0)
            if fractional.any():
                out.append(
                    Violation(field=name, code="dtype", reason=f"not an integer in {_rows(values.index[fractional])}")
                )
        if spec.min is not None and (low := numeric < spec.min).any():
            out.append(
                Violation(
                    field=name,
                    code="range",
                    reason=f"below minimum {spec.min:g} in {_rows(values.index[low])} (lowest {numeric[low].min():g})",
                )
            )
        if spec.max is not None and (high := numeric > spec.max).any():
            out.append(
                Violation(
                    field=name,
                    code="range",
                    reason=f"above maximum {spec.max:g} in {_rows(values.index[high])} "
                    f"(highest {numeric[high].max():g})",
                )
            )
    elif spec.dtype == "datetime":
        parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        bad = parsed.isna()
        if bad.any():
            out.append(Violation(field=name, code="dtype", reason=f"not a date/time in {_rows(values.index[bad])}"))
    elif spec.dtype == "bool":
        ok = values.map(lambda v: str(v).lower() in {"true", "false", "1", "0"})
        if (~ok).any():
            out.append(Violation(field=name, code="dtype", reason=f"not a boolean in {_rows(values.index[~ok])}"))
    if spec.allowed is not None:
        allowed = set(spec.allowed)
        outside = ~values.isin(allowed)
        if outside.any():
            shown = sorted({str(v) for v in values[outside]})[:_MAX_ROWS_NAMED]
            out.append(
                Violation(
                    field=name,
                    code="allowed",
                    reason=f"values {shown} not in allowed set {sorted(map(str, allowed))} "
                    f"({_rows(values.index[outside])})",
                )
            )
    if spec.pattern is not None:
        regex = re.compile(spec.pattern)
        mismatch = ~values.astype(str).map(lambda v: bool(regex.fullmatch(v)))
        if mismatch.any():
            out.append(
                Violation(
                    field=name,
                    code="pattern",
                    reason=f"does not match {spec.pattern!r} in {_rows(values.index[mismatch])}",
                )
            )
    if spec.unique and (dup := values.duplicated(keep=False)).any():
        out.append(Violation(field=name, code="duplicate", reason=f"duplicate values in {_rows(values.index[dup])}"))
    return out


def validate(
    obj: Sample | Mapping[str, np.ndarray] | pd.DataFrame, contract: SampleContract | TableContract
) -> list[Violation]:
    """Check a sample or a metadata table against its contract; returns every violation (empty when valid)."""
    if isinstance(contract, TableContract):
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"a table contract validates a pandas DataFrame, not {type(obj).__name__}")
        return contract.validate_table(obj)
    if isinstance(obj, pd.DataFrame):
        raise TypeError("a sample contract validates a Sample or a mapping of arrays, not a DataFrame")
    return contract.validate_sample(obj)
