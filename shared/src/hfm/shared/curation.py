"""Curation: every input is either written as AI-ready data or quarantined with its reasons; nothing is dropped.

A domain turns its raw files into `CurationItem`s (a key, the source files, and a loader that returns a `Sample` or
raises `InvalidInput`); `curate` validates each against the sample and metadata contracts, hands the valid ones to
the domain's writer, copies the invalid ones' sources into `quarantine/` and lists every reason in
`quarantine/report.csv`. The summary always satisfies inputs == written + quarantined. Re-running on the same inputs
rewrites the same bytes.

Safety (docs/data.md, threat model): the output folder is locked while a curation runs; the new dataset is written
beside the old one and swapped in only when complete; every key becomes a file name through one sanitiser that
refuses collisions; every quarantine copy stays inside the output folder; each item's load runs under the resource
budget's time and memory limits; content seen before is quarantined as a duplicate.
"""

from __future__ import annotations

import csv
import hashlib
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
from hfm.shared.safety.budget import FileTimeLimit, current_budget, file_limits, human_bytes
from hfm.shared.safety.keys import KeyRegistry, safe_key
from hfm.shared.safety.lock import FolderLock
from hfm.shared.safety.paths import display_name, inside, safe_child
from hfm.shared.safety.staging import DatasetReplacement
from hfm.shared.shard_layout import StatsPartial

MANIFEST = "curation.json"
QUARANTINE = "quarantine"
_STATS_CHUNK = 1 << 20


@dataclass
class CurationItem:
    key: str
    sources: Sequence[Path]
    load: Callable[[], Sample]


def rejected_item(key: str, path: Path, code: str, reason: str, field: str = "file") -> CurationItem:
    """An input that is quarantined unread (unsupported format, symlink leaving the folder, header refused)."""

    def load() -> Sample:
        raise InvalidInput(reason, field=field, code=code)

    return CurationItem(key=key, sources=[path], load=load)


class ArrayStats(BaseModel):
    """Statistics of one array over all written samples (finite values only; NaNs counted apart)."""

    name: str
    count: int
    nan_count: int
    # None when no finite value was written (e.g. an array only unlabelled cases lack); cards drop None fields, so
    # they default to None to read back.
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None


@dataclass
class RunningStats:
    """Statistics of one array name over every sample, kept as sums so that memory stays constant and shards merge
    exactly: `count` finite values, `nan_count` NaNs, their `total` and `total_sq` (float64), `lo`/`hi` the extremes
    (inf/-inf until a finite value is seen)."""

    count: int = 0
    nan_count: int = 0
    total: float = 0.0
    total_sq: float = 0.0
    lo: float = np.inf
    hi: float = -np.inf

    def add(self, array: np.ndarray) -> None:
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.complexfloating):
            return
        flat = array.reshape(-1)
        for start in range(0, flat.size, _STATS_CHUNK):  # float64 copies of a chunk, never of the whole array
            values = np.asarray(flat[start : start + _STATS_CHUNK], dtype=np.float64)
            finite = values[np.isfinite(values)]
            self.nan_count += int(np.isnan(values).sum())
            if finite.size:
                self.count += finite.size
                self.total += float(finite.sum())
                self.total_sq += float(np.square(finite).sum())
                self.lo = min(self.lo, float(finite.min()))
                self.hi = max(self.hi, float(finite.max()))

    def partial(self, name: str) -> StatsPartial:
        """The sums as they stand, to be added to other shards' in shard order (`merge`)."""
        lo, hi = (self.lo, self.hi) if self.count else (None, None)
        return StatsPartial(
            name=name,
            count=self.count,
            nan_count=self.nan_count,
            total=self.total,
            total_sq=self.total_sq,
            min=lo,
            max=hi,
        )

    def merge(self, part: StatsPartial) -> None:
        self.count += part.count
        self.nan_count += part.nan_count
        self.total += part.total
        self.total_sq += part.total_sq
        if part.min is not None and part.max is not None:
            self.lo = min(self.lo, part.min)
            self.hi = max(self.hi, part.max)

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
    budget = current_budget()
    try:
        with file_limits(budget):
            sample = item.load()
    except FileTimeLimit:
        reason = f"reading took over {budget.file_timeout_s} s (raise HFM_FILE_TIMEOUT_S to allow more)"
        return None, [Violation(field="file", code="time_limit", reason=reason)]
    except InvalidInput as error:
        if isinstance(error.__cause__, MemoryError):
            return None, [_memory_violation(budget.file_memory_bytes)]
        return None, [Violation(field=error.field, code=error.code, reason=error.reason)]
    except MemoryError:
        return None, [_memory_violation(budget.file_memory_bytes)]
    except Exception as error:  # a reader failing on a damaged file is a reason to quarantine, not to stop
        if isinstance(error.__cause__, MemoryError):
            return None, [_memory_violation(budget.file_memory_bytes)]
        return None, [Violation(field="file", code="unreadable", reason=f"{type(error).__name__}: {error}")]
    violations = contract.validate_sample(sample)
    if metadata_contract is not None:
        violations += metadata_contract.validate_table(pd.DataFrame([sample.attrs]))
    for spec in contract.arrays:  # units the reader left out are the contract's (a disagreement is a violation)
        if spec.units is not None and spec.name in sample.arrays:
            sample.units.setdefault(spec.name, spec.units)
    return sample, violations


def _memory_violation(limit: int) -> Violation:
    reason = f"reading needed more than {human_bytes(limit)} of memory (raise HFM_FILE_MEMORY_BYTES to allow more)"
    return Violation(field="file", code="memory_limit", reason=reason)


def _check_output(out_dir: Path) -> None:
    """Only an empty folder or an earlier curation output (its manifest present) may be replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        raise HFMError(f"{out_dir}: exists and is not a folder; choose a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).exists():
        raise HFMError(f"{out_dir}: not empty and not an earlier curation output; choose an empty folder")


def content_hash(sample: Sample) -> str:
    """Hash of a sample's arrays (names, dtypes, shapes, bytes): the same data under two keys is a duplicate."""
    digest = hashlib.sha256()
    for name in sorted(sample.arrays):
        array = np.ascontiguousarray(sample.arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.reshape(-1).view(np.uint8) if array.size else b"")
    return digest.hexdigest()


def _quarantine(out_dir: Path, folder_name: str, record: QuarantineRecord, sources: Sequence[Path]) -> None:
    """Copy the item's regular files (never a symlink: it may lead anywhere) under a sanitised name."""
    folder = safe_child(out_dir, QUARANTINE, "files", folder_name)
    for index, path in enumerate(Path(s) for s in sources):
        if path.is_symlink() or not path.is_file():
            continue
        try:
            name = safe_key(path.name)
        except InvalidInput:
            name = f"source-{index}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, safe_child(folder, name))


def _quarantine_folder(key: str, taken: set[str]) -> str:
    """A folder name for an item's quarantine copies: its sanitised key, made unique by a hash of the raw key."""
    try:
        name = safe_key(key)
    except InvalidInput:
        name = "key"
    if name != key or name.casefold() in taken:
        name = f"{name}-{hashlib.sha256(key.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"
    taken.add(name.casefold())
    return name


def write_quarantine_report(out_dir: Path, records: Iterable[QuarantineRecord]) -> None:
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


def _item_violations(item: CurationItem, keys: KeyRegistry) -> list[Violation]:
    try:
        keys.claim(item.key)
    except InvalidInput as error:
        return [Violation(field=error.field, code=error.code, reason=error.reason)]
    return []


def curate(
    items: Iterable[CurationItem],
    out_dir: str | Path,
    contract: SampleContract,
    writer: SampleWriter,
    metadata_contract: TableContract | None = None,
    split_attr: str = "split",
    show_progress: bool = True,
    total: int | None = None,
    detect_duplicates: bool = False,
) -> CurationSummary:
    """Validate, write or quarantine every item; returns the summary and writes it to `curation.json`.

    With `detect_duplicates`, a sample whose arrays equal an earlier one's is quarantined (`duplicate`), as
    `hfm curate arrays` and radiome do; domains whose samples may legitimately repeat leave it off.

    The folder is locked for the run (a second curation into it is refused, naming this process) and replaced
    only at the end: a failed or killed run leaves the previous dataset as it was.
    """
    out_dir = Path(out_dir)
    _check_output(out_dir)
    with FolderLock(out_dir, purpose="curation"):
        replacement = DatasetReplacement(out_dir)
        staging = replacement.begin()
        try:
            summary = _curate_into(
                items,
                staging,
                contract,
                writer,
                metadata_contract,
                split_attr,
                show_progress,
                total,
                out_dir.name,
                detect_duplicates,
            )
            replacement.commit()
        except BaseException:
            replacement.abort()
            raise
    return summary


class ItemCurator:
    """The state of one curation run (or of one shard): written or quarantined, item by item, into `out_dir`."""

    def __init__(
        self,
        out_dir: Path,
        contract: SampleContract,
        writer: SampleWriter,
        metadata_contract: TableContract | None,
        split_attr: str = "split",
        detect_duplicates: bool = False,
    ) -> None:
        self.out_dir = out_dir
        self.contract = contract
        self.writer = writer
        self.metadata_contract = metadata_contract
        self.split_attr = split_attr
        self.detect_duplicates = detect_duplicates
        self.stats: dict[str, RunningStats] = {spec.name: RunningStats() for spec in contract.arrays}
        self.quarantined: list[QuarantineRecord] = []
        self.reasons: Counter[str] = Counter()
        self.splits: Counter[str] = Counter()
        self.keys = KeyRegistry()
        self.contents: dict[str, str] = {}
        self.folders: set[str] = set()
        self.inputs = self.written = 0
        writer.open(out_dir)

    def add(self, item: CurationItem) -> None:
        self.inputs += 1
        sample, violations = None, _item_violations(item, self.keys)
        if not violations:  # a key that cannot be a file name is not worth reading
            sample, violations = _load_and_check(item, self.contract, self.metadata_contract)
        if self.detect_duplicates and sample is not None and not violations:
            digest = content_hash(sample)
            if digest in self.contents:
                reason = f"same content as {display_name(self.contents[digest])!r}"
                violations.append(Violation(field="content", code="duplicate", reason=reason))
            else:
                self.contents[digest] = item.key
        if violations or sample is None:
            record = QuarantineRecord(
                key=display_name(item.key), sources=[display_name(s) for s in item.sources], violations=violations
            )
            self.quarantined.append(record)
            _quarantine(self.out_dir, _quarantine_folder(item.key, self.folders), record, item.sources)
            self.reasons.update({v.code for v in violations})
            return
        self.writer.write(item.key, sample)
        self.written += 1
        for name, array in sample.arrays.items():
            self.stats.setdefault(name, RunningStats()).add(np.asarray(array))
        if self.split_attr in sample.attrs:
            self.splits[str(sample.attrs[self.split_attr])] += 1

    def close(self) -> list[str]:
        """The writer's files (relative paths, all inside the folder); the quarantine records end sorted by key."""
        files = self.writer.close()
        escaping = [f for f in files if Path(f).is_absolute() or not inside(self.out_dir, self.out_dir / f)]
        if escaping:
            raise HFMError(f"{self.writer.format_name} writer: files outside the dataset folder: {escaping[:3]}")
        self.quarantined.sort(key=lambda r: r.key)
        return files


def _curate_into(
    items: Iterable[CurationItem],
    out_dir: Path,
    contract: SampleContract,
    writer: SampleWriter,
    metadata_contract: TableContract | None,
    split_attr: str,
    show_progress: bool,
    total: int | None,
    label: str,
    detect_duplicates: bool,
) -> CurationSummary:
    run = ItemCurator(out_dir, contract, writer, metadata_contract, split_attr, detect_duplicates)
    with progress_bar(f"curating into {label}", total=total, enabled=show_progress) as advance:
        for item in items:
            run.add(item)
            advance()
    files = run.close()
    write_quarantine_report(out_dir, run.quarantined)
    summary = CurationSummary(
        inputs=run.inputs,
        written=run.written,
        quarantined=len(run.quarantined),
        reasons=dict(sorted(run.reasons.items())),
        splits=dict(sorted(run.splits.items())),
        files=files,
        statistics=[s.result(name) for name, s in run.stats.items()],
        quarantine=run.quarantined,
    )
    write_atomic(out_dir / MANIFEST, dump_json(summary.model_dump(mode="json")))
    return summary
