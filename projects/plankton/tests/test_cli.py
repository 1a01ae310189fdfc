"""The whole `hfm plankton` flow on a small synthetic image folder, through the root `hfm` command."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from hfm.plankton.synthetic import CLASSES, make_synthetic
from hfm.shared.cli.main import app


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("folder")
    data = make_synthetic(5, seed=3)
    for i, (grey, label) in enumerate(zip(data.images, data.labels, strict=True)):
        (root / CLASSES[label]).mkdir(exist_ok=True)
        Image.fromarray((grey * 255).astype(np.uint8)).save(root / CLASSES[label] / f"{i:03d}.png")
    return root


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_curate_pretrain_finetune_classify_assist_export(image_folder, tmp_path):
    torch.set_num_threads(1)
    dataset, model, head = tmp_path / "dataset", tmp_path / "model", tmp_path / "head.json"
    out = invoke("plankton", "curate", image_folder, dataset, "--pixel-size", 2.0, "--canvas", 32, "--quiet")
    assert "inputs 30 = written 30 + quarantined 0" in out
    assert "matches its data (30 records" in invoke("card", "validate", dataset)
    out = invoke("plankton", "pretrain", dataset, model, "--steps", 6, "--width", 32, "--depth", 1, "--batch-size", 16)
    assert "in 6 steps" in out and (model / "model.safetensors").exists()
    config = json.loads((model / "config.json").read_text())
    assert config["model"] == "image-mae-tiny" and config["args"]["channels"] == 2
    assert "6 classes from 30 validated objects" in invoke("plankton", "finetune", dataset, model, head)
    # Mark the objects unvalidated so classify predicts them all; none may keep a validated status.
    tsv = dataset / "ecotaxa_objects.tsv"
    lines = tsv.read_text().splitlines()
    status = lines[0].split("\t").index("object_annotation_status")
    rows = [line.split("\t") for line in lines[2:]]
    for row in rows:
        row[status] = ""
    tsv.write_text("\n".join(lines[:2] + ["\t".join(r) for r in rows]) + "\n")
    out = invoke("plankton", "classify", dataset, model, head, tmp_path / "pred", "--threshold", 0.0)
    assert "30 of 30 unvalidated objects assigned" in out
    predicted = pd.read_csv(tmp_path / "pred" / "ecotaxa_predictions.tsv", sep="\t", skiprows=[1])
    assert set(predicted["object_annotation_status"]) == {"predicted"}
    assert set(predicted["object_annotation_category"]) <= set(CLASSES)
    assert (tmp_path / "pred" / "images").is_dir()
    out = invoke("plankton", "assist", dataset, model, tmp_path / "assist", "--clusters", 6)
    clusters = pd.read_csv(tmp_path / "assist" / "clusters.tsv", sep="\t")
    assert len(clusters) == 30 and clusters["cluster"].nunique() == 6
    invoke("plankton", "traits", image_folder, tmp_path / "traits.csv", "--pixel-size", 2.0)
    traits = pd.read_csv(tmp_path / "traits.csv")
    assert len(traits) == 30 and traits["esd_um"].between(20, 400).all()
    invoke("plankton", "export-ecotaxa", image_folder, tmp_path / "bundle.zip")
    invoke("plankton", "dwc", tmp_path / "bundle.zip", tmp_path / "dwc.csv")
    assert pd.read_csv(tmp_path / "dwc.csv")["scientificName"].isin(CLASSES).all()


def test_user_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(app, ["plankton", "curate", str(tmp_path / "nope"), str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "no such file or folder" in str(result.exception) + result.output
