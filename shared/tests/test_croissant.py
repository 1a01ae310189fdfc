"""Croissant of an hfm-arrays dataset: mlcroissant validates it and reads every RecordSet, joined to samples by key."""

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from hfm.shared.arraystore import ArrayStoreFormat
from hfm.shared.croissant import read_records

CONTRACT = {
    "sample": {
        "name": "ipoc-trace",
        "arrays": [
            {"name": "waveform", "dims": ["channel", "time"], "dtype": "float32", "shape": [3, 1200], "units": "counts"}
        ],
    },
    "metadata": {
        "name": "ipoc-events",
        "columns": [
            {"name": "split", "dtype": "str", "allowed": ["train", "dev", "test"]},
            {"name": "source_magnitude", "dtype": "float", "min": -2, "max": 10},
            {"name": "station_code", "dtype": "str"},
        ],
    },
}


def hfm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hfm.shared.cli.main", *args], capture_output=True, text=True)


@pytest.fixture
def dataset(shared_data, tmp_path) -> Path:
    """Twelve real IPOC traces curated as hfm-arrays."""
    source = shared_data / "seismic" / "seisbench-dummy"
    meta = pd.read_csv(source / "metadata.csv").head(12)
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = []
    with h5py.File(source / "waveforms.hdf5", "r") as h5:
        for i, row in meta.iterrows():
            bucket, rest = row["trace_name"].split("$")
            np.savez(raw / f"trace{i:03d}.npz", waveform=h5["data"][bucket][int(rest.split(",")[0])].astype("float32"))
            rows.append(
                {
                    "key": f"trace{i:03d}",
                    "split": row["split"],
                    "source_magnitude": row["source_magnitude"],
                    "station_code": row["station_code"],
                }
            )
    pd.DataFrame(rows).to_csv(tmp_path / "metadata.csv", index=False)
    (tmp_path / "contract.yaml").write_text(yaml.safe_dump(CONTRACT))
    out = tmp_path / "dataset"
    result = hfm(
        "curate", "arrays", str(raw), str(out), "--contract", str(tmp_path / "contract.yaml"),
        "--metadata", str(tmp_path / "metadata.csv"), "--name", "ipoc-12", "--license", "GPL-3.0-only",
        "--creator", "IPOC network", "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_mlcroissant_reads_every_record_set_joined_by_key(dataset):
    assert hfm("card", "croissant", str(dataset)).returncode == 0
    document = json.loads((dataset / "croissant.json").read_text())
    samples = next(r for r in document["recordSet"] if r["@id"] == "samples")
    # the safetensors arrays are described, never declared as fields mlcroissant would fail to decode
    assert "waveform float32[3,1200] (channel, time) in counts" in samples["description"]
    assert not any(f.get("isArray") for r in document["recordSet"] for f in r["field"])
    records = read_records(dataset / "croissant.json")
    assert set(records) == {"samples", "metadata"}
    keys = {key for key, _ in ArrayStoreFormat().iter_samples(dataset)}
    assert len(keys) == 12
    assert {r["key"] for r in records["samples"]} == keys
    table = pd.read_csv(dataset / "metadata.csv").set_index("key")
    assert len(records["metadata"]) == 12
    for record in records["metadata"]:
        assert set(record) == {"key", *table.columns}  # the file's own column names, every one
        assert record["source_magnitude"] == pytest.approx(table.at[record["key"], "source_magnitude"])
        assert record["station_code"] == table.at[record["key"], "station_code"]


def test_croissant_written_elsewhere_points_back_to_the_data(dataset, tmp_path):
    target = tmp_path / "elsewhere" / "ipoc.json"
    target.parent.mkdir()
    assert hfm("card", "croissant", str(dataset), "-o", str(target)).returncode == 0
    document = json.loads(target.read_text())
    assert document["distribution"][0]["contentUrl"].startswith("../dataset/")
    records = read_records(target)
    assert len(records["samples"]) == 12 and len(records["metadata"]) == 12


def test_every_sample_carries_the_units_of_each_array(dataset):
    from safetensors import safe_open

    files = sorted((dataset / "samples").glob("*.safetensors"))
    assert len(files) == 12
    for path in files:
        with safe_open(str(path), framework="numpy") as handle:
            assert handle.metadata() == {"units.waveform": "counts"}  # from the contract: npz files hold none
    _, sample = next(ArrayStoreFormat().iter_samples(dataset))
    assert sample.units == {"waveform": "counts"}
