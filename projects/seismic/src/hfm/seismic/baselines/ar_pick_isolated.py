"""ObsPy's `ar_pick` with its S pick made independent of memory it does not own.

ObsPy's C picker (`obspy/signal/src/arpicker.c`, checked in 1.5.1) searches for the S onset with a reversed
STA-LTA that runs from the S window's end down to the P sample and reads the buffers at `index - nlta`, where
`nlta` is `lta_s * rate`. When its P onset lies within `lta_s` of the record's start, that index goes below zero and
the search reads heap memory in front of its own buffer. Whatever lies there can set the search's minimum, and then
the S pick is dropped (0, no pick); otherwise the S pick is the one the in-range samples give. So the S pick of the
same trace changes with the state of the calling process's heap: on the NCEDC training windows, 87 of 924 calls gave
a different S under glibc's `MALLOC_PERTURB_` = 0, 85 and 170, and the P pick never changed.

Such calls are repeated here in a fresh interpreter that imports only NumPy and calls the same C function, with
freed memory filled with 0xFF bytes (a NaN as float32, which no comparison selects): its buffers are carved in
order from a new heap, so what lies in front of the S buffer is the zeroed tail of the previous one. The S pick
then is the in-range one, and repeats. Calls whose P lies later than `lta_s` never leave their buffers and are
ObsPy's own output, untouched.
"""

from __future__ import annotations

import io
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import scipy.signal
from obspy.signal.headers import clibsignal

CHILD = Path(__file__).with_name("_ar_pick_child.py")
NAN_FILL_BYTE = "255"  # glibc fills freed memory with this byte: 0xFFFFFFFF is a NaN as float32


def s_search_leaves_buffer(p_seconds: float, rate: float, l_p: float, lta_s: float) -> bool:
    """Whether ObsPy's reversed S search reads in front of its buffer: its P sample (the returned P time plus the
    P variance window `l_p`, as the C code subtracts it) lies within `lta_s` of the start. Two samples of margin
    absorb the float32 rounding of the returned time; a P that is not a number counts as leaving."""
    if not math.isfinite(p_seconds):
        return True
    p_sample = round(p_seconds * rate) + int(l_p * rate)
    return p_sample < int(lta_s * rate) + 2


def prepared_components(z: np.ndarray, n: np.ndarray, e: np.ndarray) -> list[np.ndarray]:
    """The inputs as `obspy.signal.trigger.ar_pick` hands them to C: linearly detrended float32, and each of the
    vertical and the horizontal pair (one common factor) scaled to a peak of 1e6 when its peak is below 100."""
    parts = [
        np.require(scipy.signal.detrend(x, type="linear"), dtype=np.float32, requirements=["C_CONTIGUOUS"]).copy()
        for x in (z, n, e)
    ]
    for group in (parts[:1], parts[1:]):
        peak = max(float(np.abs(x).max()) for x in group)
        if peak < 100:
            with np.errstate(divide="ignore", invalid="ignore"):  # a flat trace gives NaN, as in ObsPy
                for x in group:
                    x *= 1e6
                    x /= peak
    return parts


def ar_pick_fresh_process(
    z: np.ndarray,
    n: np.ndarray,
    e: np.ndarray,
    rate: float,
    f1: float,
    f2: float,
    lta_p: float,
    sta_p: float,
    lta_s: float,
    sta_s: float,
    m_p: int,
    m_s: int,
    l_p: float,
    l_s: float,
) -> tuple[float, float]:
    """`ar_pick`'s (P, S) in seconds, computed by ObsPy's C function in a fresh interpreter (see the module's
    docstring); raises RuntimeError with the child's message when the C code fails."""
    parts = prepared_components(z, n, e)
    floats = [rate, f1, f2, lta_p, sta_p, lta_s, sta_s, l_p, l_s]
    payload = io.BytesIO()
    np.savez(payload, z=parts[0], n=parts[1], e=parts[2], floats=np.array(floats), ints=np.array([m_p, m_s]))
    env = {**os.environ, "MALLOC_PERTURB_": NAN_FILL_BYTE}
    done = subprocess.run(
        [sys.executable, str(CHILD), clibsignal._name],
        input=payload.getvalue(),
        capture_output=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"ar_pick in a fresh process failed: {done.stderr.decode(errors='replace').strip()}")
    p, s = (float(v) for v in done.stdout.split())
    return p, s
