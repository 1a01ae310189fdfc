"""The arguments every domain command shares, spelt once: `hfm <domain> pretrain DATASET --out ... --steps ...`.

Domains annotate their parameters with these (`steps: Steps = 300`), so the same word means the same thing in every
domain and `--help` describes it the same way; each domain keeps its own defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from hfm.shared.shard_curation import Sharding

Dataset = Annotated[Path, typer.Argument(help="A curated dataset folder (written by `hfm <domain> curate`).")]
Raw = Annotated[Path, typer.Argument(help="The raw input: a folder or file in the community's format.")]
Out = Annotated[Path, typer.Option("--out", "-o", help="Output folder (run, model, report or dataset).")]
Init = Annotated[
    Path | None,
    typer.Option("--init", help="Start from this model: an exported model folder or its model.safetensors."),
]
Steps = Annotated[int, typer.Option("--steps", help="Optimiser steps.")]
BatchSize = Annotated[int, typer.Option("--batch-size", help="Global batch size per optimiser step.")]
LearningRate = Annotated[float, typer.Option("--lr", help="Peak learning rate (warm-up, then cosine decay).")]
Model = Annotated[str, typer.Option("--model", help="Registered model name (`hfm models list`).")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the run (data order, initialisation, masking).")]
Set = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override one run-config key, e.g. --set optim.weight_decay=0.01; repeatable."),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
License = Annotated[str, typer.Option("--license", help="SPDX licence identifier of the data (never assumed).")]
Creators = Annotated[
    list[str], typer.Option("--creator", help="Creator of the data; repeat for several (never invented).")
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", help="Processes curating shards in parallel (default: the CPUs this process may use)."),
]
Part = Annotated[
    str | None,
    typer.Option(
        "--part", help="PART/COUNT: curate only this part's shards (a SLURM array task's); a run without --part merges."
    ),
]


def sharding(shard_size: int, workers: int | None, part: str | None) -> Sharding:
    """`--shard-size/--workers/--part` as one `Sharding`: 0 shards means unsharded; the default workers are the CPUs
    this process may use (SLURM's allocation, not the node's)."""
    from hfm.shared.parallel import available_cpus
    from hfm.shared.shard_curation import Sharding, ShardPart

    return Sharding(
        shard_size=shard_size or None,
        workers=workers or available_cpus(),
        part=ShardPart.parse(part) if part else None,
    )


def curation_line(out: Path, summary: Any, part: str | None) -> str:
    """What `curate` prints: the summary, or, for one part of an array, that the part is done (the merge follows)."""
    return f"{out}: {summary.line()}" if summary is not None else f"{out}: part {part or 'of the array'} curated"
