"""What one curated sample is: a (channel, time) float32 signal without NaN, and its metadata row."""

from __future__ import annotations

from hfm.shared.contracts import ArraySpec, ColumnSpec, SampleContract, TableContract

SIGNAL_LENGTH = 256

SAMPLE_CONTRACT = SampleContract(
    name="template-signal",
    arrays=[
        ArraySpec(
            name="signal",
            dims=["channel", "time"],
            dtype="float32",
            shape=[1, SIGNAL_LENGTH],
            units="1",
            nan_policy="forbid",
            description="one signal, dimensionless",
        )
    ],
)

METADATA_CONTRACT = TableContract(
    name="template-metadata",
    columns=[
        ColumnSpec(name="label", dtype="str", description="class: the folder the file came from"),
        ColumnSpec(name="split", dtype="str", allowed=["train", "dev", "test"], description="fixed split"),
    ],
)
