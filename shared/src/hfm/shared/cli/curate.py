"""`hfm curate arrays`: the generic curation path for NumPy files with a contract written in YAML."""

from __future__ import annotations

from pathlib import Path

import typer

from hfm.shared import __version__
from hfm.shared.arraystore import FORMAT_NAME, ArrayStoreWriter
from hfm.shared.cards import Creator, ProvenanceStep, card_from_curation, package_versions
from hfm.shared.curation import curate
from hfm.shared.npz_source import load_contracts, npz_items

app = typer.Typer(help="Curate raw data into an AI-ready dataset with its card.", no_args_is_help=True)


@app.command("arrays")
def arrays(
    source: Path = typer.Argument(..., help="Folder of .npz / .npy files."),
    output: Path = typer.Argument(..., help="Dataset folder to write (empty, or an earlier curation output)."),
    contract: Path = typer.Option(..., "--contract", "-c", help="YAML with `sample:` and optional `metadata:`."),
    metadata: Path = typer.Option(None, "--metadata", "-m", help="CSV with a `key` column (file stem)."),
    name: str = typer.Option(..., help="Dataset name."),
    license: str = typer.Option(..., help="SPDX licence identifier, e.g. CC-BY-4.0."),
    creator: list[str] = typer.Option(..., help="Creator name; repeat for several."),
    description: str = typer.Option("", help="What the data is."),
    citation: str = typer.Option(None, help="How to cite the data."),
    array_name: str = typer.Option("data", help="Array name for .npy files."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Validate every file against the contract, write the valid ones, quarantine the rest with reasons."""
    sample_contract, table_contract = load_contracts(contract)
    items = npz_items(source, metadata, array_name)
    summary = curate(
        items,
        output,
        sample_contract,
        ArrayStoreWriter(),
        table_contract,
        show_progress=not quiet,
        total=len(items),
        detect_duplicates=True,
    )
    card_from_curation(
        output,
        summary,
        name=name,
        description=description or f"{name}: curated from {source.name}",
        license=license,
        creators=[Creator(name=c) for c in creator],
        citation=citation,
        domain="generic",
        format=FORMAT_NAME,
        contract=sample_contract,
        metadata_contract=table_contract,
        sources=[Path(i.sources[0]) for i in items],
        provenance=[
            ProvenanceStep(
                step="curate",
                tool="hfm curate arrays",
                tool_version=__version__,
                parameters={"contract": contract.name, "array_name": array_name},
                packages=package_versions("numpy", "pandas", "safetensors", "pydantic"),
                inputs=summary.inputs,
                outputs=summary.written,
                quarantined=summary.quarantined,
            )
        ],
    )
    typer.echo(f"{output}: {summary.line()}")
