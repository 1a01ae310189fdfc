"""hfm-radiome passes the conformance kit: plugin, CLI shape, module layout, tokenizer round trip, and curation of
real raw volumes (deterministic, every input counted); its shipped configs parse into the tasks' typed options."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

import hfm.radiome
from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.radiome.plugin import plugin
from hfm.radiome.readers.brain import nilearn_data_dir, write_brain_dataset
from hfm.radiome.tasks import TASKS
from hfm.radiome.tokenizer import VolumeTokenizer
from hfm.radiome.training import optimiser_settings
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.options import options_dict
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.testing.conformance import check_curation, check_domain, check_tokenizer_round_trip
from hfm.shared.train.config import load_config

CONFIGS = Path(__file__).parent.parent / "configs"


def test_radiome_conforms() -> None:
    assert check_domain(plugin, Path(hfm.radiome.__file__).parent) == []
    sample = np.random.default_rng(0).normal(size=(1, 16, 24, 32)).astype(np.float32)
    assert check_tokenizer_round_trip(VolumeTokenizer(channels=1, patch=8), sample) == []


@pytest.mark.skipif(nilearn_data_dir() is None, reason="nilearn's MNI152 template is not installed")
def test_curation_of_real_volumes_is_deterministic_and_counts_every_input(tmp_path: Path) -> None:
    """MNI152 with its tissue labels (train), niivue's FLAIR (test), and a FLAIR cut short (quarantined)."""
    try:
        flair = require_data("radiome/niivue/FLAIR.nii.gz")
    except DataUnavailable as missing:
        pytest.skip(str(missing))
    raw = write_brain_dataset(tmp_path / "raw", with_test_subject=False)
    (raw / "imagesTs").mkdir(exist_ok=True)
    shutil.copyfile(flair, raw / "imagesTs" / "flair_0000.nii.gz")
    (raw / "imagesTs" / "cut_0000.nii.gz").write_bytes(gzip.compress(gzip.decompress(flair.read_bytes())[:5000]))
    describe = DatasetDescription("real brains", "LicenseRef-mixed", ["HFM tests"])

    def run(source: Path, out: Path):
        return curate_nnunet(source, out, (4.0, 4.0, 4.0), describe, show_progress=False).summary

    assert check_curation(run, raw, tmp_path, expected_inputs=3) == []
    summary = run(raw, tmp_path / "again")
    assert (summary.written, summary.quarantined) == (2, 1)


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_parse_into_the_tasks_options(path: Path) -> None:
    config = load_config(path)
    built = TASKS[config.task.name](dict(config.task.options))  # typed options: an unknown key would raise
    assert options_dict(built.options) == {**options_dict(built.options), **config.task.options}
    settings = optimiser_settings(config.optim.lr)  # the configs train as the shortcuts and experiments do
    assert config.optim.weight_decay == settings["weight_decay"]
    assert config.optim.min_lr == pytest.approx(settings["min_lr"], rel=1e-12)


def test_unknown_task_options_are_refused_with_the_allowed_ones() -> None:
    with pytest.raises(HFMError, match=r"unknown option 'sampels'.*allowed: cache_mb, dataset"):
        TASKS["radiome-mae"]({"dataset": "/nonexistent", "sampels": 400})
    with pytest.raises(HFMError, match="option 'dataset' is required"):
        TASKS["radiome-segment"]({"patch_size": [32, 32, 32]})
