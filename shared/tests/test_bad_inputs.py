"""The bad-input corpus through `hfm curate arrays`: every probe written or quarantined with a true reason."""

from __future__ import annotations

import os

import yaml

from hfm.shared.testing.bad_inputs import check_run, run_curation, write_generic_probes

ARRAY = {"name": "data", "dims": ["x"], "dtype": "float32", "shape": ["x"]}
CONTRACT = {"sample": {"name": "probe", "arrays": [ARRAY]}}


def test_generic_corpus_through_curate_arrays(tmp_path):
    probes = write_generic_probes(tmp_path / "raw", tmp_path / "elsewhere")
    contract = tmp_path / "contract.yaml"
    contract.write_text(yaml.safe_dump(CONTRACT))
    out = tmp_path / "out"
    argv = ["hfm", "curate", "arrays", str(tmp_path / "raw"), str(out), "-c", str(contract), "--name", "probes"]
    argv += ["--license", "CC0-1.0", "--creator", "corpus", "--quiet"]
    code = f"""
import runpy, sys
sys.argv = {argv!r}
try:
    runpy.run_module("hfm.shared.cli.main", run_name="__main__")
except SystemExit as stop:
    assert not stop.code, stop.code
"""
    run = run_curation(code, out, watch=tmp_path)
    assert check_run(run, out, probes) == []
    assert "inputs 17 = written 2 + quarantined 15" in run.output
    assert len(os.listdir(out / "samples")) == 2
