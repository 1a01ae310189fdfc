"""What a curated seismic window must look like (sample and metadata contracts) and the waveform quality checks."""

from __future__ import annotations

import numpy as np

from hfm.seismic.format import WAVEFORM_ARRAY
from hfm.shared.contracts import ArraySpec, ColumnSpec, SampleContract, TableContract, Violation


def waveform_contract(components: int | None = 3) -> SampleContract:
    """Windows of `components` x samples, finite float32 (gaps are quarantined, never written)."""
    return SampleContract(
        name="seismic-window",
        arrays=[
            ArraySpec(
                name=WAVEFORM_ARRAY,
                dims=["component", "time"],
                dtype="floating",
                shape=[components, None],
                nan_policy="forbid",
                description="ground motion in ZNE order (missing components are zeros), raw counts",
            )
        ],
    )


def metadata_contract(sampling_rate: float) -> TableContract:
    return TableContract(
        name="seismic-metadata",
        columns=[
            ColumnSpec(name="trace_start_time", dtype="datetime"),
            ColumnSpec(name="trace_sampling_rate_hz", dtype="float", min=sampling_rate, max=sampling_rate, units="Hz"),
            ColumnSpec(name="station_network_code"),
            ColumnSpec(name="station_code"),
            ColumnSpec(name="trace_components", pattern=r"Z?N?E?"),
            ColumnSpec(name="trace_category", allowed=["earthquake", "noise", "unlabelled"]),
            ColumnSpec(name="trace_P_arrival_sample", dtype="float", nullable=True, min=0),
            ColumnSpec(name="trace_S_arrival_sample", dtype="float", nullable=True, min=0),
            ColumnSpec(name="split", allowed=["train", "dev", "test"]),
        ],
    )


def quality_violations(
    waveforms: np.ndarray, components: str, clip_fraction: float = 0.001, min_clipped: int = 5
) -> list[Violation]:
    """Flat, clipped and gappy components, each named (NaN marks samples the files did not cover)."""
    out: list[Violation] = []
    for index, component in enumerate("ZNE"):
        if component not in components:
            continue
        trace = waveforms[index]
        missing = np.isnan(trace)
        if missing.any():
            # NaN at both ends means the files stop inside the window; NaN in the middle is a gap in the recording.
            inner = (
                missing[np.argmax(~missing) : len(trace) - np.argmax(~missing[::-1])] if (~missing).any() else missing
            )
            if inner.any() and (~missing).any():
                out.append(
                    Violation(
                        field=component, code="gap", reason=f"{int(inner.sum())} samples missing inside the window"
                    )
                )
            if missing[0] or missing[-1]:
                out.append(
                    Violation(
                        field=component,
                        code="too_short",
                        reason=f"data cover {int((~missing).sum())} of {len(trace)} samples",
                    )
                )
            continue
        if np.ptp(trace) == 0:
            out.append(Violation(field=component, code="flat", reason=f"constant value {trace[0]:g} over the window"))
            continue
        peak = np.abs(trace).max()
        at_peak = int((np.abs(trace) >= peak * (1 - 1e-6)).sum())
        if at_peak >= max(min_clipped, clip_fraction * len(trace)):
            out.append(
                Violation(field=component, code="clipped", reason=f"{at_peak} samples at the peak value {peak:g}")
            )
    return out
