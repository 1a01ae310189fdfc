"""Curation: every input is either written as AI-ready data or quarantined with its reasons; nothing is dropped.

A domain turns its raw files into `CurationItem`s (a key, the source files, and a loader that returns a `Sample` or
raises `InvalidInput`); `curate` validates each against the sample and metadata contracts, hands the valid ones to
the domain's writer, copies the invalid ones' sources into `quarantine/` and lists every reason in
`quarantine/report.csv`. The summary always satisfies inputs == written + quarantined. Re-running on the same inputs
rewrites the same bytes.
"""

from __future__ import annotations

import csv
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel

from hfm.shared.contracts import Sample, SampleContract, TableContract, Violation
from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.formats import SampleWriter
from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.progress import progress_bar

MANIFEST = "curation.json"
QUARANTINE = "quarantine"


@dataclass
class CurationItem:
    key: str
    sources: Sequence[Path]
    load: Callable[[], Sample]


class ArrayStats(BaseModel):
    """Statistics of one array over all written samples (finite values only; NaNs counted apart)."""

    name: str
    count: int
    nan_count: int
    mean: float | None
    std: float | None
    min: float | None
    max: float | None


@dataclass
class _RunningStats:
    count: int = 0
    nan_count: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    lo: float = np.inf
    hi: float = -np.inf

    def add(self, array: np.ndarray) -> None:
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            return
        values = np.asarray(array, dtype=np.float64).ravel()
        finite = values[np.isfinite(values)]
        self.nan_count += int(np.isnan(values).sum())
        if finite.size:
            self.count += finite.size
            self.total += float(finite.sum())
            self.total_sq += float(np.square(finite).sum())
            self.lo = min(self.lo, float(finite.min()))
            self.hi = max(self.hi, float(finite.max()))

    def result(self, name: str) -> ArrayStats:
        if not self.count:
            return ArrayStats(name=name, count=0, nan_count=self.nan_count, mean=None, std=None, min=None, max=None)
        mean = self.total / self.count
        var = max(self.total_sq / self.count - mean * mean, 0.0)
        return ArrayStats(
            name=name,
            count=self.count,
            nan_count=self.nan_count,
            mean=mean,
            std=var**0.5,
            min=self.lo,
            max=self.hi,
        )


class QuarantineRecord(BaseModel):
    key: str
    sources: list[str]
    violations: list[Violation]


class CurationSummary(BaseModel):
    inputs: int
    written: int
    quarantined: int
    reasons: dict[str, int]
    splits: dict[str, int]
    files: list[str]
    statistics: list[ArrayStats]
    quarantine: list[QuarantineRecord]

    def model_post_init(self, __context: object) -> None:
        if self.inputs != self.written + self.quarantined:
            raise AssertionError(f"curation lost inputs: {self.inputs} != {self.written} + {self.quarantined}")

    def line(self) -> str:
        reasons = ", ".join(f"{code}: {n}" for code, n in sorted(self.reasons.items())) or "none"
        return f"inputs {self.inputs} = written {self.written} + quarantined {self.quarantined} (reasons: {reasons})"


def _load_and_check(
    item: CurationItem, contract: SampleContract, metadata_contract: TableContract | None
) -> tuple[Sample | None, list[Violation]]:
    try:
        sample = item.load()
    except InvalidInput as error:
        return None, [Violation(field=error.field, code=error.code, reason=error.reason)]
    except Exception as error:  # a reader failing on a damaged file is a reason to quarantine, not to stop
        return None, [Violation(field="file", code="unreadable", reason=f"{type(error).__name__}: {error}")]
    violations = contract.validate_sample(sample)
    if metadata_contract is not None:
        violations += metadata_contract.validate_table(pd.DataFrame([sample.attrs]))
    return sample, violations


def _prepare_output(out_dir: Path) -> None:
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / MANIFEST).exists():
            raise HFMError(f"{out_dir}: not empty and not an earlier curation output; choose an empty folder")
        shutil.rmtree(out_dir)  # an earlier run of ours: rewrite it whole so re-runs are identical
    out_dir.mkdir(parents=True, exist_ok=True)


def _quarantine(out_dir: Path, record: QuarantineRecord) -> None:
    folder = out_dir / QUARANTINE / "files" / record.key
    for source in record.sources:
        path = Path(source)
        if path.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, folder / path.name)


def _write_report(out_dir: Path, records: list[QuarantineRecord]) -> None:
    path = out_dir / QUARANTINE / "report.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["key", "sources", "field", "code", "reason"])
        for record in records:
            for violation in record.violations:
                writer.writerow(
                    [record.key, ";".join(record.sources), violation.field, violation.code, violation.reason]
                )


def curate(
    items: Iterable[CurationItem],
    out_dir: str | Path,
    contract: SampleContract,
    writer: SampleWriter,
    metadata_contract: TableContract | None = None,
    split_attr: str = "split",
    show_progress: bool = True,
    total: int | None = None,
) -> CurationSummary:
    """Validate, write or quarantine every item; returns the summary and writes it to `curation.json`."""
    out_dir = Path(out_dir)
    _prepare_output(out_dir)
    writer.open(out_dir)
    stats: dict[str, _RunningStats] = {spec.name: _RunningStats() for spec in contract.arrays}
    quarantined: list[QuarantineRecord] = []
    reasons: Counter[str] = Counter()
    splits: Counter[str] = Counter()
    seen: set[str] = set()
    inputs = written = 0
    with progress_bar(f"curating into {out_dir.name}", total=total, enabled=show_progress) as advance:
        for item in items:
            inputs += 1
            sample, violations = _load_and_check(item, contract, metadata_contract)
            if item.key in seen:
                violations.append(Violation(field="key", code="duplicate", reason=f"key {item.key!r} seen before"))
            seen.add(item.key)
            if violations or sample is None:
                record = QuarantineRecord(key=item.key, sources=[str(s) for s in item.sources], violations=violations)
                quarantined.append(record)
                _quarantine(out_dir, record)
                reasons.update({v.code for v in violations})
            else:
                writer.write(item.key, sample)
                written += 1
                for name, array in sample.arrays.items():
                    stats.setdefault(name, _RunningStats()).add(np.asarray(array))
                if split_attr in sample.attrs:
                    splits[str(sample.attrs[split_attr])] += 1
            advance()
    files = writer.close()
    quarantined.sort(key=lambda r: r.key)
    _write_report(out_dir, quarantined)
    summary = CurationSummary(
        inputs=inputs,
        written=written,
        quarantined=len(quarantined),
        reasons=dict(sorted(reasons.items())),
        splits=dict(sorted(splits.items())),
        files=files,
        statistics=[s.result(name) for name, s in stats.items()],
        quarantine=quarantined,
    )
    write_atomic(out_dir / MANIFEST, dump_json(summary.model_dump(mode="json")))
    return summary
