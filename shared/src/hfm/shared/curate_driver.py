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
from typing import Any, TypedDict

from hfm.shared.cards import Creator, DatasetCard, ProvenanceStep, card_from_curation, package_versions
from hfm.shared.contracts import SampleContract, TableContract
from hfm.shared.curation import CurationItem, CurationSummary, curate
from hfm.shared.errors import HFMError
from hfm.shared.formats import SampleWriter
from hfm.shared.shard_curation import Sharding, ShardJob, ShardPart, curate_sharded


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


class CurationRun(TypedDict, total=False):
    """How a curation runs, not what it curates. A domain's curate function takes these as `**run:
    Unpack[CurationRun]` and hands them on to `curate_dataset` untouched, so their defaults are the driver's alone
    (progress shown, unsharded)."""

    show_progress: bool
    sharding: Sharding


@dataclass(frozen=True)
class CuratedDataset:
    root: Path
    summary: CurationSummary | None  # None (and no card) for one part of a sharded curation: the merge has them
    card: DatasetCard | None


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
    detect_duplicates: bool = False,
    sharding: Sharding = Sharding(),
) -> CuratedDataset:
    """Curate `items` into `out_dir` (every input written or quarantined with its reason) and write its card.

    With `sharding.shard_size`, the items are curated in shards of that many (`hfm.shared.shard_curation`): by
    `sharding.workers` processes, resumable after a kill, and with `sharding.part` (or inside a SLURM array task)
    only that part's shards, in which case the returned dataset has no card yet (`card` is None): the run without a
    part merges and writes it.
    """
    if sharding.shard_size is not None:
        if detect_duplicates:  # a content index over all shards would be the memory the shards avoid
            raise HFMError("detect_duplicates: not available with shard_size (no content index across shards yet)")
        return _curate_in_shards(
            items,
            Path(out_dir),
            ShardJob(contract, writer, metadata_contract, split_attr),
            describe=describe,
            tool=tool,
            domain=domain,
            format=format,
            sources=sources,
            total=total,
            show_progress=show_progress,
            shard_size=sharding.shard_size,
            workers=sharding.workers,
            part=sharding.part if sharding.part is not None else ShardPart.from_slurm(),
        )
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
        detect_duplicates=detect_duplicates,
    )
    card = _write_card(
        Path(out_dir),
        summary,
        describe,
        tool,
        domain,
        format,
        contract,
        metadata_contract,
        list(sources) if sources is not None else [Path(s) for i in items for s in i.sources],
    )
    return CuratedDataset(Path(out_dir), summary, card)


def _write_card(
    root: Path,
    summary: CurationSummary,
    describe: DatasetDescription,
    tool: CurationTool,
    domain: str,
    format: str,
    contract: SampleContract,
    metadata_contract: TableContract | None,
    sources: list[Path],
) -> DatasetCard:
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
    return card_from_curation(
        root,
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
        sources=sources,
        provenance=[step],
        **describe.extra,
    )


def _curate_in_shards(
    items: Iterable[CurationItem],
    out_dir: Path,
    job: ShardJob,
    *,
    describe: DatasetDescription,
    tool: CurationTool,
    domain: str,
    format: str,
    sources: Sequence[Path] | None,
    total: int | None,
    show_progress: bool,
    shard_size: int,
    workers: int,
    part: ShardPart | None,
) -> CuratedDataset:
    cards: list[DatasetCard] = []

    def finish(root: Path, summary: CurationSummary) -> None:
        # each shard's manifest lists its sources with checksums; the card lists only those named explicitly
        chosen = list(sources) if sources is not None else []
        cards.append(
            _write_card(root, summary, describe, tool, domain, format, job.contract, job.metadata_contract, chosen)
        )

    summary = curate_sharded(
        items,
        out_dir,
        job,
        shard_size=shard_size,
        workers=workers,
        part=part,
        show_progress=show_progress,
        total=total,
        finish=finish,
    )
    if summary is None:  # one part of an array: counted in the merge
        return CuratedDataset(out_dir, None, None)
    return CuratedDataset(out_dir, summary, cards[0])
