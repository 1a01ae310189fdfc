"""The synergy commands and the quickstart from the command line, as a user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import scanpy as sc
import yaml

from hfm.shared.artifacts import ModelCard, export_model
from hfm.shared.models.registry import create_model


def hfm(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hfm.shared.cli.main", *args], capture_output=True, text=True, cwd=cwd)


def test_atlas_of_a_curated_dataset_from_the_cli(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = []
    t = np.arange(128)
    for i in range(60):
        label = ("slow", "fast", "burst")[i % 3]
        if label == "burst":
            x = np.zeros((2, 128))
            x[:, 40:70] = rng.normal(0, 3, (2, 30))
        else:
            f = 0.03 if label == "slow" else 0.2
            x = np.stack([np.sin(2 * np.pi * f * t), np.cos(2 * np.pi * f * t)])
        np.savez(raw / f"s{i:02d}.npz", x=(x + rng.normal(0, 0.2, x.shape)).astype(np.float32))
        rows.append({"key": f"s{i:02d}", "kind": label})
    pd.DataFrame(rows).to_csv(tmp_path / "meta.csv", index=False)
    contract = {
        "sample": {"name": "toy", "arrays": [{"name": "x", "dims": ["c", "t"], "shape": [2, 128]}]},
        "metadata": {"name": "toy", "columns": [{"name": "kind", "allowed": ["slow", "fast", "burst"]}]},
    }
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(contract))
    dataset = tmp_path / "dataset"
    curated = hfm(
        "curate",
        "arrays",
        str(raw),
        str(dataset),
        "-c",
        str(tmp_path / "contract.yaml"),
        "-m",
        str(tmp_path / "meta.csv"),
        "--name",
        "toy",
        "--license",
        "CC0-1.0",
        "--creator",
        "test",
        "-q",
    )
    assert curated.returncode == 0, curated.stderr
    encoder = create_model("series-encoder-tiny", channels=2, patch_len=16, depth=1)
    model = export_model(
        encoder,
        tmp_path / "model",
        {},
        ModelCard(
            name="toy-encoder", license="MIT", intended_use="atlas test", limitations="untrained: random weights"
        ),
    )
    result = hfm("synergy", "atlas", str(dataset), "--model", str(model), "--label", "kind", "-o", str(tmp_path / "a"))
    assert result.returncode == 0, result.stderr
    assert "60 objects" in result.stdout and "purity" in result.stdout
    adata = sc.read_h5ad(tmp_path / "a" / "dataset.h5ad")
    assert adata.obsm["X_hfm"].shape == (60, 192)
    assert set(adata.obs["kind"]) == {"slow", "fast", "burst"}
    purity = adata.uns["hfm_purity"]
    assert purity["purity"] > purity["chance"]


def test_transfer_needs_two_domains_and_says_so(tmp_path):
    result = hfm("synergy", "transfer", "--smoke", "-q", "-d", "seismic", "-o", str(tmp_path))
    assert result.returncode == 1
    assert "at least two domains" in result.stderr and "Traceback" not in result.stderr


def test_joint_and_transfer_from_the_cli_on_two_real_domains(tmp_path):
    result = hfm(
        "synergy", "joint", "--smoke", "--seeds", "1", "-q", "-d", "climate", "-d", "radiome", "-o", str(tmp_path)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    joint = (tmp_path / "joint.md").read_text()
    assert "| climate |" in joint and "| radiome |" in joint
    transfer = (tmp_path / "transfer.md").read_text()
    for row in ("| random init |", "| climate |", "| radiome |", "| joint |"):
        assert row in transfer
    scores = json.loads((tmp_path / "transfer.json").read_text())["scores"]
    assert len(scores) == 4 * 2  # sources (random, climate, radiome, joint) x targets
    assert all(0.0 <= s["probe"] <= 1.0 for s in scores)
    assert (tmp_path / "transfer_probe.png").stat().st_size > 5_000
