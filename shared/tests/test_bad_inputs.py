"""The bad-input corpus through `hfm curate arrays`: every probe written or quarantined with a true reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from hfm.shared.testing.bad_inputs import Probe, check_run, cli_code, run_curation, write_generic_probes

ARRAY = {"name": "data", "dims": ["x"], "dtype": "float32", "shape": ["x"]}
CONTRACT = {"sample": {"name": "probe", "arrays": [ARRAY]}}


def _corpus_from_the_tool(folder: Path) -> list[Probe]:
    """Run `tools/bad_inputs.py` (from a checkout) and read back its probe list; else write the probes here."""
    tool = Path(__file__).resolve().parents[2] / "tools" / "bad_inputs.py"
    if not tool.is_file():  # an installed package without the repository's tools
        return write_generic_probes(folder / "arrays", folder / "outside")
    subprocess.run([sys.executable, str(tool), str(folder)], check=True, capture_output=True)
    listing = json.loads((folder / "probes.json").read_text())
    assert len(listing["formats"]) == 6 and all((folder / "formats" / name).is_file() for name in listing["formats"])
    return [Probe(os.fsdecode(bytes.fromhex(p["key"])), frozenset(p["expect"]), p["says"]) for p in listing["arrays"]]


def test_generic_corpus_through_curate_arrays(tmp_path):
    probes = _corpus_from_the_tool(tmp_path / "corpus")
    assert len(probes) == 17
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(CONTRACT))
    out = tmp_path / "out"
    raw = tmp_path / "corpus" / "arrays"
    argv = ["hfm", "curate", "arrays", str(raw), str(out), "-c", str(contract), "--name", "probes"]
    argv += ["--license", "CC0-1.0", "--creator", "corpus", "--quiet"]
    run = run_curation(cli_code(argv), out, watch=tmp_path)
    assert check_run(run, out, probes) == []
    assert "inputs 17 = written 2 + quarantined 15" in run.output
    assert len(os.listdir(out / "samples")) == 2
