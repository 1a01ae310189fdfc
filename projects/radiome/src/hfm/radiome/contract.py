"""What one curated volume is: a channels-first float32 image in RAS and an optional uint8 label map on its grid."""

from __future__ import annotations

from hfm.shared.contracts import ArraySpec, SampleContract


def volume_contract(num_channels: int, max_label: int) -> SampleContract:
    return SampleContract(
        name="radiome-volume",
        arrays=[
            ArraySpec(
                name="image",
                dims=["channel", "x", "y", "z"],
                dtype="float32",
                shape=[num_channels, "x", "y", "z"],
                description="normalised intensities, RAS",
            ),
            ArraySpec(
                name="label",
                dims=["x", "y", "z"],
                dtype="uint8",
                shape=["x", "y", "z"],
                min=0,
                max=max_label,
                optional=True,
                description="class per voxel (dataset.json labels)",
            ),
        ],
    )
