"""End to end on real data: 100 IPOC traces (seisbench-dummy) plus damaged inputs, through the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from hfm.shared.hashing import sha256_file

CONTRACT = {
    "sample": {
        "name": "ipoc-trace",
        "arrays": [
            {
                "name": "waveform",
                "dims": ["channel", "time"],
                "dtype": "float32",
                "shape": [3, 1200],
                "units": "counts",
                "min": -1.0e7,
                "max": 1.0e7,
            },
        ],
    },
    "metadata": {
        "name": "ipoc-events",
        "columns": [
            {"name": "split", "dtype": "str", "allowed": ["train", "dev", "test"]},
            {"name": "source_magnitude", "dtype": "float", "min": -2, "max": 10, "units": "magnitude"},
            {"name": "source_depth_km", "dtype": "float", "min": 0, "max": 800, "units": "km"},
        ],
    },
}
DAMAGED = {
    "truncated": "unreadable",
    "with_nan": "nan",
    "as_float64": "dtype",
    "two_components": "shape",
    "huge_magnitude": "range",
    "no_metadata_row": "missing",
}


def hfm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hfm.shared.cli.main", *args], capture_output=True, text=True)


@pytest.fixture
def raw(shared_data, tmp_path) -> Path:
    """The real traces as .npz files with a metadata CSV, plus six damaged inputs."""
    source = shared_data / "seismic" / "seisbench-dummy"
    meta = pd.read_csv(source / "metadata.csv")
    folder = tmp_path / "raw"
    folder.mkdir()
    rows = []
    with h5py.File(source / "waveforms.hdf5", "r") as h5:
        for _, row in meta.iterrows():
            bucket, index = row["trace_name"].split("$")[0], int(row["trace_name"].split("$")[1].split(",")[0])
            key = f"trace{len(rows):03d}"
            np.savez(folder / f"{key}.npz", waveform=h5["data"][bucket][index].astype(np.float32))
            rows.append(
                {
                    "key": key,
                    "split": row["split"],
                    "source_magnitude": row["source_magnitude"],
                    "source_depth_km": row["source_depth_km"],
                }
            )
    good = np.load(folder / "trace000.npz")["waveform"]
    (folder / "truncated.npz").write_bytes((folder / "trace001.npz").read_bytes()[:500])
    bad = good.copy()
    bad[0, 10:20] = np.nan
    np.savez(folder / "with_nan.npz", waveform=bad)
    np.savez(folder / "as_float64.npz", waveform=good.astype(np.float64))
    np.savez(folder / "two_components.npz", waveform=good[:2])
    np.savez(folder / "huge_magnitude.npz", waveform=good)
    np.savez(folder / "no_metadata_row.npz", waveform=good)
    for key in ("truncated", "with_nan", "as_float64", "two_components"):
        rows.append({"key": key, "split": "train", "source_magnitude": 2.0, "source_depth_km": 10.0})
    rows.append({"key": "huge_magnitude", "split": "train", "source_magnitude": 14.0, "source_depth_km": 10.0})
    pd.DataFrame(rows).to_csv(tmp_path / "metadata.csv", index=False)
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(CONTRACT))
    return folder


def curate(raw: Path, out: Path) -> subprocess.CompletedProcess:
    return hfm(
        "curate",
        "arrays",
        str(raw),
        str(out),
        "--contract",
        str(raw.parent / "contract.yaml"),
        "--metadata",
        str(raw.parent / "metadata.csv"),
        "--name",
        "ipoc-pb01",
        "--license",
        "GPL-3.0-only",
        "--creator",
        "IPOC network",
        "--quiet",
    )


def checksums(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def test_curation_writes_valid_quarantines_damaged_and_is_idempotent(raw, tmp_path):
    out = tmp_path / "dataset"
    result = curate(raw, out)
    assert result.returncode == 0, result.stderr
    assert "inputs 106 = written 100 + quarantined 6" in result.stdout
    summary = json.loads((out / "curation.json").read_text())
    assert (summary["inputs"], summary["written"], summary["quarantined"]) == (106, 100, 6)
    assert summary["splits"] == {"dev": 10, "test": 30, "train": 60}
    report = pd.read_csv(out / "quarantine" / "report.csv", keep_default_na=False)
    assert {k: set(report.loc[report.key == k, "code"]) for k in DAMAGED} == {k: {c} for k, c in DAMAGED.items()}
    assert "source_magnitude" in set(report.loc[report.key == "huge_magnitude", "field"])
    assert (out / "quarantine" / "files" / "truncated" / "truncated.npz").exists()
    stats = {s["name"]: s for s in summary["statistics"]}["waveform"]
    assert stats["count"] == 100 * 3 * 1200 and stats["nan_count"] == 0
    first = checksums(out)
    assert curate(raw, out).returncode == 0
    assert checksums(out) == first


def test_card_validates_then_detects_a_changed_file(raw, tmp_path):
    out = tmp_path / "dataset"
    assert curate(raw, out).returncode == 0
    card = json.loads((out / "card.json").read_text())
    assert card["records"] == 100 and card["quarantined"] == 6 and card["license"] == "GPL-3.0-only"
    assert card["provenance"][0]["packages"]["numpy"] == np.__version__
    ok = hfm("card", "validate", str(out))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "matches its data (100 records" in ok.stdout
    sample = out / "samples" / "trace005.safetensors"
    data = bytearray(sample.read_bytes())
    data[-8:] = b"\x00" * 8
    sample.write_bytes(bytes(data))
    bad = hfm("card", "validate", str(out))
    assert bad.returncode == 1
    assert "samples/trace005.safetensors [checksum]" in bad.stdout and "file changed" in bad.stdout


def test_card_validation_catches_a_removed_record(raw, tmp_path):
    out = tmp_path / "dataset"
    assert curate(raw, out).returncode == 0
    (out / "samples" / "trace010.safetensors").unlink()
    bad = hfm("card", "validate", str(out))
    assert bad.returncode == 1
    assert "[missing]" in bad.stdout and "dataset holds 99 records, the card says 100" in bad.stdout


def test_croissant_export_is_valid_croissant_1_1(raw, tmp_path):
    out = tmp_path / "dataset"
    assert curate(raw, out).returncode == 0
    result = hfm("card", "croissant", str(out))
    assert result.returncode == 0, result.stderr
    document = json.loads((out / "croissant.json").read_text())
    assert document["conformsTo"] == "http://mlcommons.org/croissant/1.1"
    files = [d for d in document["distribution"] if d["@type"] == "cr:FileObject"]
    assert len(files) == 101 and all(len(f["sha256"]) == 64 for f in files)
    samples = next(r for r in document["recordSet"] if r["@id"] == "samples")
    assert "waveform float32[3,1200] (channel, time) in counts" in samples["description"]  # see test_croissant.py
    mlcroissant = pytest.importorskip("mlcroissant")
    dataset = mlcroissant.Dataset(jsonld=str(out / "croissant.json"))
    assert dataset.metadata.name == "ipoc-pb01"
    assert {rs.name for rs in dataset.metadata.record_sets} == {"metadata", "samples"}


def test_errors_are_one_line_without_traceback(tmp_path):
    result = hfm("card", "validate", str(tmp_path))
    assert result.returncode == 1
    assert "no dataset card here" in result.stderr and "Traceback" not in result.stderr
    debug = hfm("--debug", "card", "validate", str(tmp_path))
    assert "Traceback" in debug.stderr


def test_every_command_has_help():
    for command in (
        ["--help"],
        ["card", "--help"],
        ["card", "validate", "--help"],
        ["card", "croissant", "--help"],
        ["curate", "arrays", "--help"],
        ["domains", "--help"],
    ):
        result = hfm(*command)
        assert result.returncode == 0 and "Usage" in result.stdout, command


def test_statistics_of_an_array_with_no_finite_value_read_back_from_a_card():
    from hfm.shared.curation import ArrayStats

    empty = ArrayStats(name="label", count=0, nan_count=0, mean=None, std=None, min=None, max=None)
    stored = empty.model_dump(exclude_none=True)
    assert stored == {"name": "label", "count": 0, "nan_count": 0}
    assert ArrayStats.model_validate(stored) == empty
