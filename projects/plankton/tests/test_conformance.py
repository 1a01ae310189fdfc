"""hfm-plankton against the conformance kit (issue 22): plugin, CLI shape, module layout, tokenizer round trip, and
curation of real FlowCam images (deterministic, every input counted)."""

from pathlib import Path

import numpy as np
import pytest

import hfm.plankton
from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.experiments.mae_cv import planktonclas_images
from hfm.plankton.plugin import plugin
from hfm.plankton.readers.folders import read_image_folder
from hfm.plankton.tokenizer import model_input, plankton_tokenizer
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.testing.conformance import check_curation, check_domain, check_tokenizer_round_trip


def test_plankton_conforms():
    assert check_domain(plugin, Path(hfm.plankton.__file__).parent) == []
    canvas = np.random.default_rng(0).uniform(size=(1, 64, 64))
    assert check_tokenizer_round_trip(plankton_tokenizer(), model_input(canvas, np.array([3.4]))[0]) == []


def test_curation_of_real_flowcam_images_is_deterministic_and_counts_every_input(tmp_path):
    """The 105 FlowCam images planktonclas ships (EcoTaxa exports, 6 classes)."""
    root = planktonclas_images()
    if root is None:
        pytest.skip("planktonclas is not installed: pip install --no-deps planktonclas==0.2.4")
    describe = DatasetDescription("planktonclas-flowcam", "LicenseRef-planktonclas-demo", ["planktonclas authors"])

    def run(raw: Path, out: Path):
        objects = read_image_folder(raw, "FlowCam", 1.0)
        return curate_objects(objects, out, describe, CurationConfig(canvas=64), show_progress=False)

    assert check_curation(run, root, tmp_path, expected_inputs=105) == []
    summary = run(root, tmp_path / "again")
    assert (summary.written, summary.quarantined) == (105, 0)
