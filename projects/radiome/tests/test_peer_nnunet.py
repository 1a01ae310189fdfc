"""Peer check: nnU-Net's own `verify_dataset_integrity` on a curated nnU-Net raw folder.

nnunetv2 is not in the test extra: its dependencies pull torchvision and timm (through
dynamic-network-architectures), which this project never depends on. The noxfile installs it pinned with `--no-deps`
and exactly what this check imports (PEER_TOOLS_NO_DEPS), so it runs in CI, where a missing nnunetv2 fails the test.
"""

from pathlib import Path

from hfm.radiome.curate.nnunet import curate_nnunet
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.testing.peers import import_peer

DESCRIBE = DatasetDescription("phantoms", "CC0-1.0", ["HFM tests"])
INSTALL = "pip install --no-deps with the pins of PEER_TOOLS_NO_DEPS['radiome'] in noxfile.py (`nox -s tests-radiome`)"


def test_curated_folder_passes_nnunet_verify_dataset_integrity(raw_dataset: Path, tmp_path: Path) -> None:
    integrity = import_peer("nnunetv2.experiment_planning.verify_dataset_integrity", INSTALL)
    out = tmp_path / "Dataset002_Curated"
    done = curate_nnunet(raw_dataset, out, (4.0, 4.0, 4.0), DESCRIBE, show_progress=False)
    assert done.summary.written == 3
    integrity.verify_dataset_integrity(str(out), 1)  # raises on any disagreement it finds
