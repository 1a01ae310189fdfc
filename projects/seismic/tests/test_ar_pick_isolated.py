"""ObsPy's ar_pick reads in front of its S buffer when its P lies within lta_s of the start; the wrapper repeats such
calls in a fresh process, so the S pick no longer depends on what the caller's heap holds."""

from __future__ import annotations

import ctypes
import sys

import numpy as np
import pytest
from obspy.signal.trigger import ar_pick

from hfm.seismic.baselines.ar_pick_isolated import ar_pick_fresh_process, s_search_leaves_buffer
from hfm.seismic.baselines.classic_pickers import ArPicker

RATE = 100.0
ARGS = (RATE, 1.0, 20.0, 1.0, 0.1, 4.0, 1.0, 2, 8, 0.1, 0.2)  # ArPicker's defaults at 100 Hz
M_PERTURB = -6  # glibc mallopt: fill freed memory with this byte


def three_components(seed: int, p_s: float, s_s: float, length_s: float = 30.0) -> np.ndarray:
    """Gaussian noise with a 6 Hz P wavelet strongest on Z and a 3 Hz S wavelet strongest on the horizontals."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(length_s * RATE)) / RATE
    record = rng.normal(0.0, 1.0, (3, t.size))

    def wavelet(onset: float, hz: float, amplitude: float) -> np.ndarray:
        dt = t - onset
        return np.where(dt > 0, amplitude * np.sin(2 * np.pi * hz * dt) * np.exp(-dt / 1.5), 0.0)

    for row, (p_amp, s_amp) in enumerate(((40.0, 30.0), (8.0, 80.0), (8.0, 60.0))):
        record[row] += wavelet(p_s, 6.0, p_amp) + wavelet(s_s, 3.0, s_amp)
    return record.astype(np.float32)


def test_which_calls_leave_the_buffer():
    # P sample = P time * rate + the 10-sample P window; the S search leaves its buffer below 400 (+2 margin)
    assert s_search_leaves_buffer(3.85, RATE, 0.1, 4.0)
    assert s_search_leaves_buffer(3.91, RATE, 0.1, 4.0)
    assert not s_search_leaves_buffer(3.92, RATE, 0.1, 4.0)
    assert not s_search_leaves_buffer(10.0, RATE, 0.1, 4.0)
    assert s_search_leaves_buffer(-0.1, RATE, 0.1, 4.0)  # ar_pick's "no P" still starts the S search at 0
    assert s_search_leaves_buffer(float("nan"), RATE, 0.1, 4.0)
    assert s_search_leaves_buffer(9.9, 250.0, 0.1, 10.0)  # lengths scale with the rate


def test_fresh_process_reproduces_obspy_where_obspy_stays_in_its_buffers():
    z, n, e = (np.ascontiguousarray(c) for c in three_components(3, p_s=10.0, s_s=17.0))
    expected = ar_pick(z, n, e, *ARGS)
    assert not s_search_leaves_buffer(expected[0], RATE, 0.1, 4.0)
    assert ar_pick_fresh_process(z, n, e, *ARGS) == expected  # bit for bit, P and S
    assert expected[0] == pytest.approx(10.0, abs=0.05)
    assert expected[1] == pytest.approx(17.0, abs=0.15)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="poisons freed memory through glibc's mallopt")
def test_early_p_gives_the_same_s_whatever_the_heap_holds():
    libc = ctypes.CDLL(None)
    record = three_components(0, p_s=1.0, s_s=8.0)
    picks = []
    try:
        for byte in (0, 0xCF, 0x4F, 0xFF, 0x80):  # freed memory read as -7e9, +3.5e9, NaN, -1e-38 floats
            libc.mallopt(M_PERTURB, byte)
            junk = [np.full(3000 + 7 * k, -1e4, dtype=np.float32) for k in range(50)]
            del junk[::2]
            picks.append(ArPicker().window_onsets(record, RATE))
            del junk
    finally:
        libc.mallopt(M_PERTURB, 0)
    assert all(p == picks[0] for p in picks)
    assert picks[0]["P"] == pytest.approx(99.0, abs=1.0)  # samples: the P at 1 s, inside the first lta_s = 4 s
    assert picks[0]["S"] == pytest.approx(806.0, abs=2.0)  # the S at 8 s, not dropped
