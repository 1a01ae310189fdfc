"""Issue 14's dev conditions: the horizontals of real records as other sensors would deliver them."""

import numpy as np
import obspy
import pytest

from hfm.seismic.benchmarks.robustness import AS_RECORDED, DEPLOYMENT, chosen_variant, variant_means
from hfm.seismic.data.records import Records
from hfm.seismic.data.sensor_conditions import (
    CONDITIONS,
    GAINS,
    HV_RATIOS,
    coloured_noise,
    pre_p_noise,
    under_condition,
)
from hfm.shared.errors import HFMError

P_TIME = obspy.UTCDateTime("2009-08-24T00:20:07.70")


def _rjob_records() -> Records:
    """ObsPy's real BW.RJOB event (100 Hz, Z N E) seven times, with differently scaled horizontals, and once
    vertical-only."""
    stream = obspy.read()
    wave = np.stack([stream.select(component=c)[0].data for c in "ZNE"]).astype(np.float32)
    p = (P_TIME - stream[0].stats.starttime) * 100.0
    waves = [wave * np.array([[1.0], [g], [g]], np.float32) for g in (0.2, 0.5, 1.0, 1.0, 2.0, 3.0, 5.0)]
    vertical = wave.copy()
    vertical[1:] = 0.0
    n = len(waves) + 1
    return Records(
        [*waves, vertical], np.full(n, p), np.full(n, p + 150.0), np.array([f"e{i}" for i in range(n)]),
        np.array(["BW.RJOB"] * n), np.array(["ZNE"] * (n - 1) + ["Z"]), 100.0, "rjob",
    )  # fmt: skip


def _noise_ratio(wave: np.ndarray, p: float) -> np.ndarray:
    noise = pre_p_noise(wave, p, 100.0)
    return noise[1:].std(axis=-1) / noise[0].std()


def test_every_condition_keeps_the_vertical_onsets_and_vertical_only_records_and_is_seeded():
    records = _rjob_records()
    kept = [w.copy() for w in records.waveforms]
    for condition in CONDITIONS:
        out = under_condition(records, condition, seed=3)
        again = under_condition(records, condition, seed=3)
        for a, b, original in zip(out.waveforms, again.waveforms, kept, strict=True):
            np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(a[0], original[0], rtol=1e-6)
        np.testing.assert_array_equal(out.waveforms[-1], kept[-1])  # the vertical-only record
        np.testing.assert_array_equal(out.p_sample, records.p_sample)
        assert out.station.tolist() == records.station.tolist()
    for a, original in zip(records.waveforms, kept, strict=True):
        np.testing.assert_array_equal(a, original)  # the input is never modified
    np.testing.assert_array_equal(under_condition(records, "as recorded").waveforms[2], kept[2])
    other = under_condition(records, "gain mismatch", seed=4).waveforms[0]
    assert not np.allclose(other, under_condition(records, "gain mismatch", seed=3).waveforms[0])


def test_noisy_horizontals_reach_a_drawn_ratio_over_the_vertical_with_the_noise_spectrum_of_the_record():
    records = _rjob_records()
    before = np.array([_noise_ratio(w, p) for w, p in zip(records.waveforms[:-1], records.p_sample, strict=False)])
    out = under_condition(records, "noisy horizontals", seed=0)
    after = np.array([_noise_ratio(w, p) for w, p in zip(out.waveforms[:-1], out.p_sample, strict=False)])
    assert before.min() < 0.3 and before.max() > 3.0  # the record's gain spread covers both ends
    # each horizontal's pre-P noise ends at max(its own ratio, a target drawn in [1, 4]) times the vertical's
    grown = after > before * (1 + 1e-4)
    assert np.all(after >= before * (1 - 1e-5))
    assert np.all((after[grown] >= HV_RATIOS[0] - 1e-4) & (after[grown] <= HV_RATIOS[1] + 1e-4))
    quiet = before < 1.0
    assert np.all(after[quiet] >= HV_RATIOS[0] - 1e-4)  # every horizontal quieter than Z got noise
    assert len(np.unique(np.round(after[quiet], 2))) > 4  # ratios are drawn, not one fixed level
    loud = before > HV_RATIOS[1] * 1.05
    np.testing.assert_allclose(after[loud], before[loud], rtol=1e-5)  # already noisier than any target: unchanged


def test_coloured_noise_keeps_the_amplitude_spectrum_of_its_sample():
    rng = np.random.default_rng(0)
    t = np.arange(3000) / 100.0
    sample = np.sin(2 * np.pi * 2.0 * t) + 0.01 * rng.standard_normal(3000)  # a 2 Hz microseism-like hum
    noise = coloured_noise(sample, 9000, np.random.default_rng(1))
    assert noise.shape == (9000,) and abs(noise.std() - 1.0) < 1e-9
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(9000, 0.01)
    near = power[np.abs(freqs - 2.0) < 0.2].sum() / power.sum()
    assert near > 0.9  # the energy stays at 2 Hz, as in the sample
    assert not np.allclose(noise[:3000] / np.std(noise[:3000]), sample / sample.std(), atol=0.1)  # new phases


def test_gain_dead_and_rotated_horizontals():
    records = _rjob_records()
    original = records.waveforms[2].astype(np.float64)
    gains = []
    for i, wave in enumerate(under_condition(records, "gain mismatch", seed=1).waveforms[:-1]):
        ratio = wave[1:].astype(np.float64).std(axis=-1) / records.waveforms[i][1:].std(axis=-1)
        gains += list(ratio)
    assert GAINS[0] <= min(gains) and max(gains) <= GAINS[1] and np.std(np.log(gains)) > 0.3
    dead = under_condition(records, "dead horizontal", seed=0).waveforms
    zeroed = [int(not w[1].any()) + 2 * int(not w[2].any()) for w in dead[:-1]]
    assert set(zeroed) == {1, 2}  # exactly one of N, E, and both occur
    rotated = under_condition(records, "rotated horizontals").waveforms[2]
    np.testing.assert_allclose(rotated[1], original[2], rtol=1e-6)
    np.testing.assert_allclose(rotated[2], -original[1], rtol=1e-6)


def test_an_unknown_condition_is_refused_naming_the_known_ones():
    with pytest.raises(HFMError, match=r"sensor condition 'clipped': not one of 'as recorded', 'noisy horizontals'"):
        under_condition(_rjob_records(), "clipped")


def test_the_deployment_rule_averages_every_condition_and_can_disagree_with_the_as_recorded_rule():
    def row(variant: str, clean: float, perturbed: float) -> dict:
        out = {"variant": variant, "dev P F1": clean, "dev S F1": clean}
        for condition in CONDITIONS:
            value = clean if condition == "as recorded" else perturbed
            out |= {f"{condition}: dev P F1": value, f"{condition}: dev S F1": value}
        return out

    rows = [row("leans on N,E", 0.6, 0.2), row("robust", 0.5, 0.45), row("leans on N,E", 0.62, 0.3)]
    assert chosen_variant(rows, AS_RECORDED) == "leans on N,E"
    assert chosen_variant(rows, DEPLOYMENT) == "robust"
    means = variant_means(rows, DEPLOYMENT)
    assert means["robust"] == pytest.approx(2 * (0.5 + 4 * 0.45) / 5)
    assert means["leans on N,E"] == pytest.approx(2 * ((0.6 + 0.62) / 2 + 4 * 0.25) / 5)
    with pytest.raises(HFMError, match="no condition scores"):
        DEPLOYMENT({"variant": "a", "dev P F1": 0.5, "dev S F1": 0.5})
