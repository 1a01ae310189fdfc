"""The whole `hfm plankton` flow on a small synthetic image folder, through the root `hfm` command: curate ->
pretrain -> finetune -> predict (fine-tuned model, or probe head), each shortcut replayed by `hfm train` byte for
byte; the shipped configs parse into the tasks' typed options, which refuse what they do not know."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image
from typer.testing import CliRunner

from hfm.plankton.synthetic import CLASSES, make_synthetic
from hfm.plankton.tasks import ClassifyOptions, MAEOptions
from hfm.shared.cli.main import app
from hfm.shared.cli.main import run as hfm_cli
from hfm.shared.errors import HFMError
from hfm.shared.options import parse_options
from hfm.shared.train.task import build_task

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
TINY = ["--width", 32, "--depth", 1, "--batch-size", 16]
DESCRIBE = ["--name", "synthetic", "--license", "CC0-1.0", "--creator", "HFM tests"]


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


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _replays(out: Path, replay: Path) -> None:
    try:
        hfm_cli(["train", str(out / "run.yaml"), "--set", f"run.out_dir={replay}"])
    except SystemExit as done:
        assert done.code in (0, None)
    assert _sha(replay / "final" / "model.safetensors") == _sha(out / "run" / "final" / "model.safetensors")


def _unvalidate(dataset: Path) -> None:
    """Mark every object unvalidated, so predict assigns them all; none may keep a validated status."""
    tsv = dataset / "ecotaxa_objects.tsv"
    lines = tsv.read_text().splitlines()
    status = lines[0].split("\t").index("object_annotation_status")
    rows = [line.split("\t") for line in lines[2:]]
    for row in rows:
        row[status] = ""
    tsv.write_text("\n".join(lines[:2] + ["\t".join(r) for r in rows]) + "\n")


def test_curate_pretrain_finetune_predict_and_hfm_train_replays(image_folder, tmp_path, ecotaxa_import_errors):
    torch.set_num_threads(1)
    dataset, pre, tuned = tmp_path / "dataset", tmp_path / "pre", tmp_path / "tuned"
    out = invoke(
        "plankton", "curate", image_folder, "--out", dataset, "--pixel-size", 2.0, "--canvas", 32, "-q", *DESCRIBE
    )
    assert "inputs 30 = written 30 + quarantined 0" in out
    assert "matches its data (30 records" in invoke("card", "validate", dataset)
    invoke("plankton", "pretrain", dataset, "--out", pre, "--steps", 6, *TINY, "--set", "optim.lr=0.002")
    run = yaml.safe_load((pre / "run.yaml").read_text())
    assert run["optim"]["lr"] == 0.002 and run["task"]["dataset"] == str(dataset) and run["task"]["width"] == 32
    config = json.loads((pre / "model" / "config.json").read_text())
    assert config["model"] == "image-mae-tiny" and config["args"]["channels"] == 2
    invoke("plankton", "finetune", dataset, "--out", tuned, "--init", pre / "model", "--steps", 4, *TINY)
    config = json.loads((tuned / "model" / "config.json").read_text())
    assert config["model"] == "plankton-classifier-tiny" and config["args"]["taxa"] == sorted(CLASSES)
    _replays(pre, tmp_path / "replay-pre")
    _replays(tuned, tmp_path / "replay-tuned")

    _unvalidate(dataset)
    args = ["--init", tuned / "model", "--source", image_folder, "--out", tmp_path / "pred", "--threshold", 0.0]
    out = invoke("plankton", "predict", dataset, *args)
    assert "30 of 30 unvalidated objects assigned" in out
    predicted = pd.read_csv(tmp_path / "pred" / "ecotaxa_predictions.tsv", sep="\t", skiprows=[1])
    assert set(predicted["object_annotation_status"]) == {"predicted"}
    assert set(predicted["object_annotation_category"]) <= set(CLASSES)
    first = predicted["img_file_name"].iloc[0]  # the original image, byte for byte, not the 32 x 32 canvas
    assert (tmp_path / "pred" / first).read_bytes() == (image_folder / first).read_bytes()
    assert ecotaxa_import_errors(tmp_path / "pred" / "ecotaxa_predictions.tsv") == []
    with pytest.raises(HFMError, match="is a 'image-mae-tiny' model; expected 'plankton-classifier-tiny'"):
        invoke(
            "plankton", "predict", dataset, "--init", pre / "model", "--source", image_folder, "--out", tmp_path / "x"
        )


def test_probe_head_assist_traits_and_exports(image_folder, tmp_path):
    torch.set_num_threads(1)
    dataset, pre, head = tmp_path / "dataset", tmp_path / "pre", tmp_path / "head.json"
    invoke("plankton", "curate", image_folder, "--out", dataset, "--pixel-size", 2.0, "--canvas", 32, "-q", *DESCRIBE)
    invoke("plankton", "pretrain", dataset, "--out", pre, "--steps", 3, *TINY)
    assert "6 classes from 30 validated objects" in invoke(
        "plankton", "probe", dataset, "--init", pre / "model", "--out", head
    )
    _unvalidate(dataset)
    args = ["--init", pre / "model", "--head", head, "--source", image_folder, "--out", tmp_path / "pred"]
    args += ["--threshold", 0.0]
    assert "30 of 30 unvalidated objects assigned" in invoke("plankton", "predict", dataset, *args)
    invoke("plankton", "assist", dataset, "--init", pre / "model", "--out", tmp_path / "assist", "--clusters", 6)
    clusters = pd.read_csv(tmp_path / "assist" / "clusters.tsv", sep="\t")
    assert len(clusters) == 30 and clusters["cluster"].nunique() == 6
    invoke("plankton", "traits", image_folder, "--out", tmp_path / "traits.csv", "--pixel-size", 2.0)
    traits = pd.read_csv(tmp_path / "traits.csv")
    assert len(traits) == 30 and traits["esd_um"].between(20, 400).all()
    invoke("plankton", "export-ecotaxa", image_folder, "--out", tmp_path / "bundle.zip")
    invoke("plankton", "dwc", tmp_path / "bundle.zip", "--out", tmp_path / "dwc.csv")
    assert pd.read_csv(tmp_path / "dwc.csv")["scientificName"].isin(CLASSES).all()


@pytest.mark.parametrize(
    ("name", "task", "options"),
    [("pretrain", "plankton-mae", MAEOptions), ("finetune", "plankton-classify", ClassifyOptions)],
)
def test_shipped_configs_parse_into_the_task_options(name, task, options):
    config = yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())
    fields = dict(config["task"])
    assert fields.pop("name") == task
    parsed = parse_options(options, fields, f"configs/{name}.yaml")
    assert str(parsed.dataset) == "DATASET" and (parsed.width, parsed.depth, parsed.patch) == (96, 4, 8)
    assert config["train"]["steps"] == 300 and config["optim"]["min_lr"] == config["optim"]["lr"] / 10


def test_task_options_refuse_unknown_keys_and_have_no_synthetic_fallback(tmp_path):
    with pytest.raises(HFMError, match=r"unknown option 'widht'; allowed: .*dataset.*width"):
        build_task("plankton-mae", {"dataset": str(tmp_path), "widht": 32})
    with pytest.raises(HFMError, match="option 'dataset' is required"):
        build_task("plankton-classify", {})
    with pytest.raises(HFMError, match="not a curated plankton dataset"):
        build_task("plankton-mae", {"dataset": str(tmp_path / "nonexistent")})


def test_user_errors_are_one_line(tmp_path):
    args = ["plankton", "curate", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), *map(str, DESCRIBE)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "no such file or folder" in str(result.exception) + result.output
    result = CliRunner().invoke(app, ["plankton", "benchmark", "--only", "plankton-nope", "--out", str(tmp_path)])
    assert "--only 'plankton-nope': not a plankton benchmark" in str(result.exception) + result.output


def test_benchmark_runs_a_plankton_benchmark_through_the_shared_harness(tmp_path):
    from hfm.plankton.experiments.mae_cv import planktonclas_images

    if planktonclas_images() is None:
        pytest.skip("planktonclas is not installed: pip install --no-deps planktonclas==0.2.4")
    invoke("plankton", "benchmark", "--only", "plankton-loader", "--out", tmp_path)
    run = json.loads((tmp_path / "partial" / "plankton-loader.json").read_text())
    # Two figures: the indexed loader against plain PIL, and the sharded stream against the indexed loader.
    figures = {f["baseline_name"]: f for f in run["figures"]}
    assert set(figures) == {"plain PIL + DataLoader", "hfm curated, indexed DataLoader"}
    for figure in figures.values():
        assert figure["benchmark"] == "plankton-loader" and figure["unit"] == "images/s" and figure["value"] > 0
    assert not (tmp_path / "results.json").exists()  # a partial run never overwrites the whole one
