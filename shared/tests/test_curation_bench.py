"""The curation-scale benchmark (issue 18) runs end to end on a small scale and reports both figures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hfm.shared.curation_bench import ScaleSizes, curation_scale, real_waveforms, write_jittered_raw
from hfm.shared.sample_data import DataUnavailable
from hfm.shared.train.benchmark import CORE_BENCHMARKS


@pytest.fixture(scope="module")
def waveforms():
    try:
        return real_waveforms()
    except DataUnavailable as error:
        pytest.skip(str(error))


def test_jittered_snippets_come_from_the_real_waveforms(tmp_path, waveforms):
    assert len(waveforms) == 154 and waveforms[0].shape == (3, 9001)
    paths = write_jittered_raw(tmp_path, 5, seed=1)
    snippets = [np.load(p) for p in paths]
    assert all(s.shape == (3, 512) and s.dtype == np.float32 for s in snippets)
    assert len({s.tobytes() for s in snippets}) == 5
    again = write_jittered_raw(tmp_path / "again", 5, seed=1)
    assert all(np.array_equal(np.load(a), s) for a, s in zip(again, snippets, strict=True))


def test_the_benchmark_reports_speed_and_memory(waveforms):
    assert CORE_BENCHMARKS["curation-scale"] == "hfm.shared.curation_bench:curation_scale"
    speed, memory = curation_scale(ScaleSizes(items=40, repeats=2, small=200, large=400, ceiling_iterations=20_000))
    assert speed.metric == "items/s" and speed.n_test == 2 and speed.value > 0 and speed.baseline > 0
    assert speed.interval[0] <= speed.interval[1] and "CPU ms per item (median) 1 worker" in speed.notes
    assert "pure-Python loop in 2 forked processes vs 1" in speed.notes
    assert memory.unit == "MiB" and 20 < memory.baseline < 2000 and 20 < memory.value < 2000
    assert math.isnan(memory.interval[0]) and "driver / largest worker" in memory.notes
