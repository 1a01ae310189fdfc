"""The multi-variable pretraining corpus: real fields curated source by source, one trunk pretrained on their tiles."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from hfm.climate.contract import TimeAxis, check_time_axis
from hfm.climate.curate import DEFAULT_NAME, curate_fields
from hfm.climate.data import CorpusTiles
from hfm.climate.experiments.pretraining_corpus import SOURCES, build_corpus, harmonise
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import DataUnavailable

SMALL = ("eofs-sst-ndjfm-anomaly", "erainterim-uvz")  # two real sources that need harmonising, a few MB


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    sources = tuple(s for s in SOURCES if s.name in SMALL)
    try:
        return build_corpus(tmp_path_factory.mktemp("corpus"), sources)
    except DataUnavailable as error:
        pytest.skip(str(error))


def test_sources_without_units_are_curated_only_with_the_providers_units(corpus, tmp_path):
    sst = next(s for s in SOURCES if s.name == "eofs-sst-ndjfm-anomaly")
    with pytest.raises(HFMError, match="no units attribute"):  # the file as it is: refused by curation
        curate_fields(
            [sst.path()], tmp_path / "raw", DatasetDescription(DEFAULT_NAME, "GPL-3.0-only", ["x"]), show_progress=False
        )
    by_name = {s["name"]: s for s in corpus["sources"]}
    assert by_name["eofs-sst-ndjfm-anomaly"]["harmonised"] == "sst units 'K' as documented by the provider"
    assert "nominal year 2000" in by_name["erainterim-uvz"]["harmonised"]
    assert all(s["written"] == 1 and s["quarantined"] == 0 for s in corpus["sources"])
    card = json.loads((Path(corpus["datasets"][0]) / "card.json").read_text())
    assert "harmonised: sst units 'K'" in card["description"]


def test_tiles_cover_every_variable_and_level_standardised(corpus):
    tiles = CorpusTiles([Path(p) for p in corpus["datasets"]])
    # NDJFM SST anomalies: 50 winters of 18 x 30 points, tiles at rows (0, 2) x cols (0, 14): ocean-only tiles kept;
    # ERA-Interim: 2 months x 9 channels (z, u, v at 3 levels) x 16 x 30 tiles of the 241 x 480 grid, all defined
    counts = tiles.counts()
    assert counts[1] == 2 * 9 * 16 * 30
    assert 0 < counts[0] <= 50 * 4
    sst, era = tiles[0], tiles[len(tiles) - 1]
    assert sst.shape == era.shape == (1, 1, 16, 16)
    # each tile standardised over its defined points; land (NaN) then 0, which leaves the mean at 0
    assert abs(float(era.mean())) < 1e-5 and float(era.std(unbiased=False)) == pytest.approx(1, abs=1e-4)
    land = float((sst == 0).float().mean())
    assert abs(float(sst.mean())) < 1e-5 and float(sst.std(unbiased=False)) == pytest.approx((1 - land) ** 0.5, 1e-3)


def test_a_trunk_pretrained_on_the_corpus_initialises_a_downscaler(corpus, tmp_path, era5_grib):
    from hfm.climate.experiments.end_to_end import ERA5_OWNER, crop_fields
    from hfm.climate.training import train_and_export
    from hfm.shared.artifacts import load_pretrained
    from hfm.shared.train.task import build_task

    arch = {"patch_lat": 4, "patch_lon": 4, "width": 16, "depth": 1, "heads": 2}
    done = train_and_export("climate-corpus-mae", {"datasets": corpus["datasets"], **arch}, tmp_path / "mae",
                            steps=3, batch_size=8, progress=False)  # fmt: skip
    trunk, _ = load_pretrained(done.model_dir)
    source = crop_fields(era5_grib, tmp_path / "crop.nc", {"lat": slice(0, 8), "lon": slice(0, 8)})
    curate_fields([source], tmp_path / "era5", ERA5_OWNER, train_end="2019-03-24", show_progress=False)
    options = {"dataset": str(tmp_path / "era5"), "init": str(done.model_dir), "factor": 4, **arch}
    model = build_task("climate-downscale", options).build_model()
    for name, value in trunk.encoder.state_dict().items():  # every encoder weight comes from the corpus trunk
        torch.testing.assert_close(model.encoder.state_dict()[name], value)


def test_yearly_steps_are_regular_within_three_days():
    hours = np.array([0, 8772, 17532, 26316, 35076], dtype=float)  # winter means dated 15 Jan, leap years included
    assert check_time_axis(TimeAxis(hours, "hours since 1948-01-15", "standard")) == []
    assert [v.code for v in check_time_axis(TimeAxis(hours + np.array([0, 0, 200, 0, 0]), "hours", "standard"))] == [
        "irregular"
    ]


def test_harmonise_refuses_to_overwrite_a_files_own_units(tmp_path):
    from dataclasses import replace

    ostia = next(s for s in SOURCES if s.name == "ostia-sst")
    pytest.importorskip("iris_sample_data")
    with pytest.raises(HFMError, match="already has units 'K'"):
        harmonise(replace(ostia, units={"surface_temperature": "degC"}), tmp_path)
