"""Dataset cards: FAIR metadata that travels with a curated dataset and can be checked against it.

A card names the dataset, its licence (SPDX), creators and citation, lists every source file and data file with its
sha256, records each processing step with tool versions, carries per-array statistics, split sizes and the contract.
`validate_card` re-reads the data and reports every disagreement; `hfm.shared.croissant` exports it as JSON-LD.
"""

from __future__ import annotations

import platform
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hfm.shared.contracts import SampleContract, TableContract, Violation
from hfm.shared.curation import ArrayStats, CurationSummary
from hfm.shared.errors import HFMError
from hfm.shared.formats import DatasetFormat
from hfm.shared.hashing import sha256_file
from hfm.shared.jsonio import dump_json, read_model, write_atomic
from hfm.shared.safety.paths import display_name
from hfm.shared.shard_layout import require_complete
from hfm.shared.shard_view import readable_format, shard_file_violations

CARD_FILE = "card.json"
CARD_SCHEMA = "hfm-dataset-card/1"

# SPDX identifiers in common use for scientific data and code; anything else may be given as LicenseRef-<name>.
SPDX_LICENSES = frozenset(
    {
        "CC0-1.0",
        "CC-BY-4.0",
        "CC-BY-SA-4.0",
        "CC-BY-NC-4.0",
        "CC-BY-NC-SA-4.0",
        "CC-BY-ND-4.0",
        "CC-BY-NC-ND-4.0",
        "CC-BY-3.0",
        "CC-BY-SA-3.0",
        "ODbL-1.0",
        "ODC-By-1.0",
        "PDDL-1.0",
        "CDLA-Permissive-2.0",
        "CDLA-Sharing-1.0",
        "MIT",
        "Apache-2.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "GPL-2.0-only",
        "GPL-2.0-or-later",
        "GPL-3.0-only",
        "GPL-3.0-or-later",
        "LGPL-2.1-or-later",
        "LGPL-3.0-only",
        "LGPL-3.0-or-later",
        "AGPL-3.0-only",
        "AGPL-3.0-or-later",
        "MPL-2.0",
        "EUPL-1.2",
        "Unlicense",
        "OGL-UK-3.0",
        "etalab-2.0",
        "DL-DE-BY-2.0",
        "NLOD-2.0",
    }
)
_LICENSE_REF = re.compile(r"LicenseRef-[A-Za-z0-9.-]+")


class Creator(BaseModel):
    name: str
    affiliation: str | None = None
    orcid: str | None = None


class FileEntry(BaseModel):
    """A file with its checksum; `path` is relative to the dataset folder for data, absolute or as given for sources."""

    path: str
    sha256: str
    bytes: int
    encoding_format: str | None = None


class ProvenanceStep(BaseModel):
    step: str
    tool: str
    tool_version: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    packages: dict[str, str] = Field(default_factory=dict)
    inputs: int | None = None
    outputs: int | None = None
    quarantined: int | None = None


class DatasetCard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: str = CARD_SCHEMA
    name: str
    version: str = "1.0.0"
    description: str
    license: str
    creators: list[Creator]
    citation: str | None = None
    url: str | None = None
    keywords: list[str] = Field(default_factory=list)
    domain: str
    format: str
    records: int
    quarantined: int = 0
    sources: list[FileEntry] = Field(default_factory=list)
    files: list[FileEntry]
    provenance: list[ProvenanceStep]
    statistics: list[ArrayStats] = Field(default_factory=list)
    splits: dict[str, int] = Field(default_factory=dict)
    contract: SampleContract
    metadata_contract: TableContract | None = None

    @field_validator("license")
    @classmethod
    def _spdx(cls, value: str) -> str:
        if value not in SPDX_LICENSES and not _LICENSE_REF.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a known SPDX licence identifier (e.g. CC-BY-4.0, CC0-1.0, MIT); "
                "use LicenseRef-<name> for others"
            )
        return value

    @field_validator("creators")
    @classmethod
    def _someone(cls, value: list[Creator]) -> list[Creator]:
        if not value:
            raise ValueError("a dataset card needs at least one creator")
        return value

    def save(self, root: str | Path) -> Path:
        path = Path(root) / CARD_FILE
        write_atomic(path, dump_json(self.model_dump(mode="json", exclude_none=True)))
        return path


def package_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones are left out), plus Python's."""
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def _encoding(path: str) -> str:
    suffixes = {
        ".csv": "text/csv",
        ".tsv": "text/tab-separated-values",
        ".json": "application/json",
        ".safetensors": "application/octet-stream",
        ".hdf5": "application/x-hdf5",
        ".h5": "application/x-hdf5",
        ".nii": "application/x-nifti",
        ".gz": "application/gzip",
        ".png": "image/png",
        ".jpg": "image/jpeg",
        ".zarr": "application/x-zarr",
        ".nc": "application/x-netcdf",
    }
    return suffixes.get(Path(path).suffix.lower(), "application/octet-stream")


def file_entry(path: Path, name: str) -> FileEntry:
    return FileEntry(path=name, sha256=sha256_file(path), bytes=path.stat().st_size, encoding_format=_encoding(name))


def _hashable(path: Path) -> bool:
    """A source the card checksums: a regular file, never a symlink (it may lead outside the input folder)."""
    return path.is_file() and not path.is_symlink()


def card_from_curation(
    root: str | Path,
    summary: CurationSummary,
    *,
    name: str,
    description: str,
    license: str,
    creators: list[Creator],
    domain: str,
    format: str,
    contract: SampleContract,
    metadata_contract: TableContract | None = None,
    sources: list[Path] | None = None,
    provenance: list[ProvenanceStep] | None = None,
    **extra: Any,
) -> DatasetCard:
    """Build the card of a freshly curated dataset and write it beside the data."""
    root = Path(root)
    card = DatasetCard(
        name=name,
        description=description,
        license=license,
        creators=creators,
        domain=domain,
        format=format,
        records=summary.written,
        quarantined=summary.quarantined,
        sources=[file_entry(Path(s), display_name(s)) for s in sorted(sources or []) if _hashable(Path(s))],
        files=[file_entry(root / f, f) for f in summary.files],
        provenance=provenance or [],
        statistics=summary.statistics,
        splits=summary.splits,
        contract=contract,
        metadata_contract=metadata_contract,
        **extra,
    )
    card.save(root)
    return card


def load_card(path: str | Path) -> tuple[DatasetCard, Path]:
    """Read a card from a dataset folder or a card file; returns the card and the dataset folder."""
    path = Path(path)
    card_path = path / CARD_FILE if path.is_dir() else path
    require_complete(card_path.parent)  # a killed or unmerged sharded curation may hold files but is no dataset
    missing = f"no dataset card here (expected {CARD_FILE} in the dataset folder)"
    return read_model(card_path, DatasetCard, "a valid dataset card", missing), card_path.parent


def validate_card(path: str | Path, dataset_format: DatasetFormat | None = None) -> list[Violation]:
    """Check a card against its data: files and checksums, record count, metadata and sample contracts."""
    card, root = load_card(path)
    violations: list[Violation] = []
    for entry in card.files:
        data = root / entry.path
        if not data.exists():
            violations.append(Violation(field=entry.path, code="missing", reason="listed in the card but not found"))
            continue
        size = data.stat().st_size
        if size != entry.bytes:
            violations.append(
                Violation(field=entry.path, code="checksum", reason=f"{size} bytes but the card says {entry.bytes}")
            )
        digest = sha256_file(data)
        if digest != entry.sha256:
            violations.append(
                Violation(
                    field=entry.path,
                    code="checksum",
                    reason=f"sha256 {digest[:12]}… but the card says {entry.sha256[:12]}… (file changed)",
                )
            )
    violations += shard_file_violations(root)
    if dataset_format is None:
        return violations
    dataset_format = readable_format(root, dataset_format)
    count = dataset_format.count(root)
    if count != card.records:
        violations.append(
            Violation(
                field="records", code="count", reason=f"dataset holds {count} records, the card says {card.records}"
            )
        )
    if card.metadata_contract is not None:
        table = dataset_format.metadata(root)
        if table is not None:
            violations += [
                Violation(field=f"metadata.{v.field}", code=v.code, reason=v.reason)
                for v in card.metadata_contract.validate_table(table)
            ]
    try:
        for key, sample in dataset_format.iter_samples(root):
            violations += [
                Violation(field=f"{key}.{v.field}", code=v.code, reason=v.reason)
                for v in card.contract.validate_sample(sample)
            ]
    except HFMError as error:
        violations.append(Violation(field="data", code="unreadable", reason=str(error)))
    return violations
