"""The one curation driver every domain calls: curate the items, then write the card with its provenance.

Each domain brings only what it knows (its items, contract, writer, format name and the packages that did the
reading); the driver decides the rest the same way everywhere: the summary, the card, the provenance step with the
tool's own version, the default licence (none: a licence is the data owner's statement and must be given) and the
creators (at least one, never invented).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from hfm.shared.cards import Creator, DatasetCard, ProvenanceStep, card_from_curation, package_versions
from hfm.shared.contracts import SampleContract, TableContract
from hfm.shared.curation import CurationItem, CurationSummary, curate
from hfm.shared.errors import HFMError
from hfm.shared.formats import SampleWriter


@dataclass(frozen=True)
class DatasetDescription:
    """What the data owner states about a dataset: it goes into the card unchanged."""

    name: str
    license: str  # SPDX identifier, e.g. CC-BY-4.0
    creators: Sequence[str]
    description: str = ""
    citation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # further card fields (e.g. keywords)

    def __post_init__(self) -> None:
        if not self.creators or not all(c.strip() for c in self.creators):
            raise HFMError(f"dataset {self.name!r}: at least one creator is required (--creator NAME)")
        if not self.license.strip():
            raise HFMError(f"dataset {self.name!r}: a licence is required (--license SPDX-ID)")


@dataclass(frozen=True)
class CurationTool:
    """Who curated: the command, its distribution (for the version) and the libraries whose versions matter."""

    command: str  # e.g. "hfm seismic curate"
    distribution: str  # e.g. "hfm-seismic"
    packages: Sequence[str] = ()
    parameters: dict[str, Any] = field(default_factory=dict)

    def version(self) -> str:
        try:
            return version(self.distribution)
        except PackageNotFoundError:
            return "unknown"


@dataclass(frozen=True)
class CuratedDataset:
    root: Path
    summary: CurationSummary
    card: DatasetCard


def curate_dataset(
    items: Iterable[CurationItem],
    out_dir: str | Path,
    *,
    domain: str,
    format: str,
    contract: SampleContract,
    writer: SampleWriter,
    describe: DatasetDescription,
    tool: CurationTool,
    metadata_contract: TableContract | None = None,
    sources: Sequence[Path] | None = None,
    total: int | None = None,
    show_progress: bool = True,
    split_attr: str = "split",
) -> CuratedDataset:
    """Curate `items` into `out_dir` (every input written or quarantined with its reason) and write its card."""
    items = list(items)
    summary = curate(
        items,
        out_dir,
        contract,
        writer,
        metadata_contract,
        split_attr=split_attr,
        show_progress=show_progress,
        total=total if total is not None else len(items),
    )
    step = ProvenanceStep(
        step="curate",
        tool=tool.command,
        tool_version=tool.version(),
        parameters=dict(tool.parameters),
        packages=package_versions(tool.distribution, "hfm-shared", *tool.packages),
        inputs=summary.inputs,
        outputs=summary.written,
        quarantined=summary.quarantined,
    )
    card = card_from_curation(
        out_dir,
        summary,
        name=describe.name,
        description=describe.description or f"{describe.name}: curated by {tool.command}",
        license=describe.license,
        creators=[Creator(name=c) for c in describe.creators],
        citation=describe.citation,
        domain=domain,
        format=format,
        contract=contract,
        metadata_contract=metadata_contract,
        sources=list(sources) if sources is not None else [Path(s) for i in items for s in i.sources],
        provenance=[step],
        **describe.extra,
    )
    return CuratedDataset(Path(out_dir), summary, card)
