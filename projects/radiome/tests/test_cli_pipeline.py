"""The CLI chain on phantoms: fingerprint, curate, pretrain, finetune (from the MAE), predict, evaluate; and
`hfm train OUT/run.yaml` replaying pretrain and finetune byte for byte."""

import hashlib
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
from typer.testing import CliRunner

from hfm.radiome.format import DatasetJson, export_case, write_dataset_json
from hfm.radiome.synthetic.phantoms import make_phantom
from hfm.shared.cli.main import app

runner = CliRunner()
SMALL = ["--width", "48", "--depth", "2", "--heads", "3", "--batch-size", "1"]
CARD = ["--license", "CC0-1.0", "--creator", "HFM tests"]


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def _weights(run: Path) -> str:
    return hashlib.sha256((run / "final" / "model.safetensors").read_bytes()).hexdigest()


def _replays(out: Path, tmp_path: Path) -> None:
    """`hfm train OUT/run.yaml` into another folder trains the same weights as the shortcut did."""
    replay = tmp_path / f"replay-{out.name}"
    _ok(["train", str(out / "run.yaml"), "--set", f"run.out_dir={replay}"])
    assert _weights(replay) == _weights(out / "run")


def test_cli_chain_writes_prediction_on_the_input_grid_and_replays(tmp_path: Path) -> None:
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
    cur = tmp_path / "cur"
    out = _ok(["radiome", "curate", str(raw), "--out", str(cur), "--quiet", *CARD])
    assert "inputs 2 = written 2 + quarantined 0" in out
    _ok(["card", "validate", str(cur)])
    (cur / "plan.json").write_text((raw / "plan.json").read_text())
    mae, seg = tmp_path / "mae", tmp_path / "seg"
    _ok(["radiome", "pretrain", str(cur), "--out", str(mae), "--steps", "2", *SMALL])
    _ok(["radiome", "finetune", str(cur), "--out", str(seg), "--steps", "2", "--init", str(mae / "model"), *SMALL])
    assert json.loads((seg / "model" / "plan.json").read_text())["patch_size"] == [16, 16, 16]
    _replays(mae, tmp_path)
    _replays(seg, tmp_path)
    # An input in LSA voxel order with a scaled int16 header: the prediction keeps its grid, affine and header.
    image, label = make_phantom((24, 20, 22), seed=7)
    affine = np.array([[-2.0, 0, 0, 30], [0, 0, 2, -20], [0, 2, 0, 5], [0, 0, 0, 1]])
    source = nib.Nifti1Image((image * 1000).astype(np.int16), affine)
    source.header["descrip"] = b"phantom seven"
    nib.save(source, str(tmp_path / "input.nii.gz"))
    predicted = tmp_path / "predicted"
    _ok(["radiome", "predict", str(tmp_path / "input.nii.gz"), "--init", str(seg / "model"), "--out", str(predicted)])
    pred = nib.load(str(predicted / "input.nii.gz"))
    assert pred.shape == (24, 20, 22) and np.array_equal(pred.affine, affine)
    assert pred.header["descrip"].tobytes().rstrip(b"\0") == b"phantom seven"
    assert set(np.unique(np.asarray(pred.dataobj))) <= {0, 1, 2}
    nib.save(nib.Nifti1Image(label, affine), str(tmp_path / "ref.nii.gz"))
    scored = tmp_path / "scores"
    args = ["radiome", "evaluate", str(predicted / "input.nii.gz"), str(tmp_path / "ref.nii.gz"), "--out", str(scored)]
    scores = json.loads(_ok(args))
    assert set(scores["dice"]) == {"1", "2"} and 0.0 <= scores["mean"] <= 1.0
    assert json.loads((scored / "evaluation.json").read_text()) == scores
    missing = ["radiome", "evaluate", str(tmp_path / "ref.nii.gz"), str(tmp_path / "x.nii"), "--out", str(scored)]
    result = runner.invoke(app, missing)
    assert result.exit_code != 0 and "x.nii: not a readable NIfTI file" in str(result.exception)


def test_finetune_refuses_an_init_of_the_wrong_kind(tmp_path: Path) -> None:
    """A segmenter's folder as --init is refused in one line naming what it is and what was expected."""
    from hfm.radiome.tasks import segmenter
    from hfm.shared.artifacts import ModelCard, export_model
    from hfm.shared.errors import HFMError
    from hfm.shared.models.registry import create_model

    tiny = {"width": 48, "depth": 2, "heads": 3}
    unetr = create_model("radiome-unetr-tiny", features=4, **tiny)
    folder = export_model(unetr, tmp_path / "seg", {}, ModelCard(name="seg", intended_use="test", limitations="-"))
    try:
        segmenter("radiome-unetr-tiny", {"features": 4, **tiny}, folder)
    except HFMError as error:
        assert "is a 'radiome-unetr-tiny' model; expected 'radiome-mae-tiny'" in str(error)
    else:
        raise AssertionError("a segmenter was accepted as a pretrained MAE")


def test_benchmark_runs_the_declared_benchmark_through_the_harness(tmp_path: Path, monkeypatch) -> None:
    """`hfm radiome benchmark` runs the plugin's benchmark in the harness and writes its partial files (the figures
    themselves are tested in test_tissue_bench.py; the real run takes 20 minutes)."""
    import hfm.radiome.benchmarks

    calls = []
    monkeypatch.setattr(hfm.radiome.benchmarks, "figures", lambda: calls.append("figures") or [])
    _ok(["radiome", "benchmark", "--out", str(tmp_path)])
    written = json.loads((tmp_path / "partial" / "radiome.json").read_text())
    assert calls == ["figures"] and written["run"]["only"] == written["run"]["benchmarks"] == ["radiome"]
    assert written["failures"] == [] and (tmp_path / "partial" / "radiome.md").is_file()
