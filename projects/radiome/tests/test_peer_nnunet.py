"""Peer check: nnU-Net's own `verify_dataset_integrity` on a curated nnU-Net raw folder.

Runs where nnunetv2 is importable. It is not in the test extra: installing nnunetv2 pulls torchvision and timm
(through dynamic-network-architectures), which this project never depends on. By hand, outside the project venv:
`pip install --no-deps --target DIR nnunetv2 batchgenerators acvl_utils SimpleITK blosc2 numexpr msgpack ndindex httpx`
then `PYTHONPATH=DIR pytest projects/radiome/tests/test_peer_nnunet.py`.
"""

from pathlib import Path

import pytest

from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.shared.curate_driver import DatasetDescription

DESCRIBE = DatasetDescription("phantoms", "CC0-1.0", ["HFM tests"])


def test_curated_folder_passes_nnunet_verify_dataset_integrity(raw_dataset: Path, tmp_path: Path) -> None:
    integrity = pytest.importorskip(
        "nnunetv2.experiment_planning.verify_dataset_integrity", reason="nnunetv2 is not installed (see docstring)"
    )
    out = tmp_path / "Dataset002_Curated"
    done = curate_nnunet(raw_dataset, out, (4.0, 4.0, 4.0), DESCRIBE, show_progress=False)
    assert done.summary.written == 3
    integrity.verify_dataset_integrity(str(out), 1)  # raises on any disagreement it finds
