"""The CLI chain on phantoms: fingerprint, curate, pretrain, finetune (from the MAE), predict, evaluate."""

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from typer.testing import CliRunner

from hfm.radiome.nnunet import DatasetJson, export_case, write_dataset_json
from hfm.radiome.phantoms import make_phantom
from hfm.shared.cli.main import app

runner = CliRunner()
SMALL = ["--width", "48", "--depth", "2", "--heads", "3", "--batch-size", "1"]


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_chain_writes_prediction_on_the_input_grid(tmp_path: Path) -> None:
    torch.set_num_threads(1)
    raw = tmp_path / "Dataset002_Phantom"
    for i in range(2):
        image, label = make_phantom((24, 24, 24), seed=i)
        export_case(raw, f"p{i}", [image * 100.0], np.diag([2.0, 2.0, 2.0, 1.0]), label)
    write_dataset_json(
        raw, DatasetJson(channel_names={"0": "T1"}, labels={"background": 0, "shell": 1, "core": 2}, numTraining=2)
    )
    out = _ok(["radiome", "fingerprint", str(raw), "--spacing", "3", "--max-patch", "16"])
    assert "patch [16, 16, 16]" in out
    out = _ok(["radiome", "curate", str(raw), str(tmp_path / "cur"), "--no-progress"])
    assert "inputs 2 = written 2 + quarantined 0" in out
    _ok(["card", "validate", str(tmp_path / "cur")])
    (tmp_path / "cur" / "plan.json").write_text((raw / "plan.json").read_text())
    _ok(["radiome", "pretrain", str(tmp_path / "cur"), "--out", str(tmp_path / "mae"), "--steps", "2", *SMALL])
    out = _ok(
        [
            "radiome",
            "finetune",
            str(tmp_path / "cur"),
            "--out",
            str(tmp_path / "seg"),
            "--steps",
            "2",
            "--pretrained",
            str(tmp_path / "mae" / "export"),
            *SMALL,
        ]
    )
    assert "pretrained weights:" in out and "mismatch" not in out
    # An input in LSA voxel order with a scaled int16 header: the prediction keeps its grid, affine and header.
    image, label = make_phantom((24, 20, 22), seed=7)
    affine = np.array([[-2.0, 0, 0, 30], [0, 0, 2, -20], [0, 2, 0, 5], [0, 0, 0, 1]])
    source = nib.Nifti1Image((image * 1000).astype(np.int16), affine)
    source.header["descrip"] = b"phantom seven"
    nib.save(source, str(tmp_path / "input.nii.gz"))
    _ok(
        [
            "radiome",
            "predict",
            str(tmp_path / "seg" / "export"),
            str(tmp_path / "input.nii.gz"),
            str(tmp_path / "pred.nii.gz"),
        ]
    )
    pred = nib.load(str(tmp_path / "pred.nii.gz"))
    assert pred.shape == (24, 20, 22) and np.array_equal(pred.affine, affine)
    assert pred.header["descrip"].tobytes().rstrip(b"\0") == b"phantom seven"
    assert set(np.unique(np.asarray(pred.dataobj))) <= {0, 1, 2}
    nib.save(nib.Nifti1Image(label, affine), str(tmp_path / "ref.nii.gz"))
    scores = json.loads(_ok(["radiome", "evaluate", str(tmp_path / "pred.nii.gz"), str(tmp_path / "ref.nii.gz")]))
    assert set(scores["dice"]) == {"1", "2"} and 0.0 <= scores["mean"] <= 1.0
    result = runner.invoke(app, ["radiome", "evaluate", str(tmp_path / "pred.nii.gz"), str(tmp_path / "input.nii")])
    assert result.exit_code != 0 and "input.nii: not a readable NIfTI file" in str(result.exception)
