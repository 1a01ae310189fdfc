"""What hfm-radiome offers to the core (see `hfm domains`). Lists only implemented features."""

from hfm.shared.plugins import DomainPlugin

plugin = DomainPlugin(
    name="radiome",
    summary="3D MRI/CT volumes: NIfTI/DICOM, nnU-Net layout, MONAI segmentation.",
)
