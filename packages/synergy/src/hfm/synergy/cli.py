"""`hfm synergy transfer | joint | atlas`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer

from hfm.shared.jsonio import dump_json, write_atomic
from hfm.synergy.atlas import build_atlas
from hfm.synergy.benches import collect_benches
from hfm.synergy.embedding import embed_dataset
from hfm.synergy.report import heatmap, markdown_table
from hfm.synergy.transfer import JOINT, RANDOM, TransferSettings, transfer_matrix

app = typer.Typer(
    help="Cross-domain experiments: transfer between domains, joint pretraining, embedding atlas.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings(smoke: bool, seeds: int, steps: int | None, epochs: int | None = None) -> TransferSettings:
    settings = TransferSettings()
    if smoke:
        settings = replace(settings, pretrain_steps=10, finetune_epochs=1)
    if steps is not None:
        settings = replace(settings, pretrain_steps=steps)
    if epochs is not None:
        settings = replace(settings, finetune_epochs=epochs)
    return replace(settings, seeds=tuple(range(seeds)))


def run_transfer(
    out: Path,
    smoke: bool,
    seeds: int,
    steps: int | None,
    domains: list[str] | None,
    joint: bool,
    quiet: bool,
    epochs: int | None = None,
) -> tuple[str, dict]:
    """Run the matrix, write table, heat-maps and raw scores under `out`; returns (markdown, raw scores)."""
    out.mkdir(parents=True, exist_ok=True)
    skipped: dict[str, str] = {}
    benches = collect_benches(out / "data", smoke, 0, domains, skipped)
    scores = transfer_matrix(benches, _settings(smoke, seeds, steps, epochs), joint=joint, show_progress=not quiet)
    raw = {
        "scores": [vars(s) for s in scores],
        "domains": {b.domain: b.description for b in benches},
        "skipped": skipped,
    }
    write_atomic(out / "transfer.json", dump_json(raw))
    parts = ["## Cross-domain transfer", ""]
    parts += [f"- **{b.domain}**: {b.description}" for b in benches]
    parts += [f"- **{name}**: left out: {reason}" for name, reason in skipped.items()]
    for protocol in ("probe", "finetune"):
        png = heatmap(scores, protocol, out / f"transfer_{protocol}.png")
        parts += ["", f"### {protocol}", "", markdown_table(scores, protocol), f"![{protocol}]({png.name})"]
    markdown = "\n".join(parts) + "\n"
    write_atomic(out / "transfer.md", markdown)
    return markdown, raw


# The options transfer and joint share.
OUT = typer.Option(Path("hfm-synergy"), "--out", "-o", help="Output folder.")
SEEDS = typer.Option(3, min=1, help="Seeds per cell.")
STEPS = typer.Option(None, help="Pretraining steps per domain (default 150; 10 with --smoke).")
DOMAINS = typer.Option(None, "--domain", "-d", help="Only these domains; repeat for several.")
SMOKE = typer.Option(False, "--smoke", help="Smallest settings.")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar.")


@app.command("transfer")
def transfer(
    out: Path = OUT,
    seeds: int = SEEDS,
    steps: int = STEPS,
    domain: list[str] = DOMAINS,
    smoke: bool = SMOKE,
    quiet: bool = QUIET,
) -> None:
    """Source domain x target domain matrix against random init and in-domain pretraining: table and heat-map."""
    run_transfer(out, smoke, seeds, steps, domain or None, joint=False, quiet=quiet)
    typer.echo(str(out / "transfer.md"))


@app.command("joint")
def joint(
    out: Path = OUT,
    seeds: int = SEEDS,
    steps: int = STEPS,
    domain: list[str] = DOMAINS,
    smoke: bool = SMOKE,
    quiet: bool = QUIET,
) -> None:
    """Pretrain one trunk on several domains with balanced sampling; compare per domain with single-domain."""
    _, raw = run_transfer(out, smoke, seeds, steps, domain or None, joint=True, quiet=quiet)
    rows = ["| domain | random init | single-domain | joint |", "|---|---|---|---|"]
    for target in raw["domains"]:

        def mean(source: str, target: str = target) -> float:
            values = [s["probe"] for s in raw["scores"] if s["source"] == source and s["target"] == target]
            return sum(values) / len(values)

        rows.append(f"| {target} | {mean(RANDOM):.3f} | {mean(target):.3f} | {mean(JOINT):.3f} |")
    write_atomic(out / "joint.md", "## Joint pretraining (linear probe)\n\n" + "\n".join(rows) + "\n")
    typer.echo(str(out / "joint.md"))


@app.command("atlas")
def atlas(
    dataset: Path = typer.Argument(..., help="Curated dataset folder (with card.json)."),
    model: Path = typer.Option(..., "--model", "-m", help="Exported encoder artifact folder."),
    label: str = typer.Option(None, "--label", "-l", help="Metadata column to measure cluster purity against."),
    array: str = typer.Option(None, help="Array to embed (hfm-arrays datasets; default: the contract's first)."),
    out: Path = typer.Option(Path("hfm-atlas"), "--out", "-o", help="Output folder."),
) -> None:
    """Embed a curated dataset, write AnnData (.h5ad) with scanpy neighbours, leiden, UMAP and purity."""
    embeddings, obs = embed_dataset(dataset, model, array)
    result = build_atlas(embeddings, obs, out, label_key=label, name=dataset.name)
    purity = f", purity {result.purity:.3f} (chance {result.chance_purity:.3f})" if result.purity is not None else ""
    typer.echo(f"{result.h5ad}: {result.n_obs} objects, {result.n_clusters} leiden clusters{purity}")
