"""The picking benchmark's pieces: metrics, classic pickers on a real DFDP record, windows, figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from obspy import Stream

from hfm.seismic.baselines.classic_pickers import ArPicker, BaerPicker, StaLtaAic, grid_settings
from hfm.seismic.benchmarks.picking import figures_from, sliding_probabilities
from hfm.seismic.data.records import Records, detection_windows, pick_windows, training_crops
from hfm.seismic.metrics.picks import (
    MethodScores,
    bootstrap_statistic,
    f1_statistic,
    match_counts,
    prf,
    tune_threshold,
)
from hfm.seismic.readers.nordic import _read_wav, read_sfile, record_sample
from hfm.shared.sample_data import DataUnavailable, require_data


def _dfdp() -> Path:
    try:
        return require_data("seismic/dfdp-eqcorrscan")
    except DataUnavailable as error:
        pytest.skip(str(error))


def _record(station: str = "WZ11", sfile: str = "05-0208-14L.S201309") -> tuple[np.ndarray, dict]:
    base = _dfdp()
    event = read_sfile(base / "REA" / "TEST_" / sfile)
    stream = Stream()
    for name in event.wav_names:
        stream += _read_wav(base / "WAV" / "TEST_" / name).select(station=station)
    onsets = event.first_picks()[station]
    sample = record_sample(stream, onsets, {}, 100.0, station)
    return sample.arrays["waveforms"], sample.attrs


def test_match_counts_and_f1() -> None:
    assert match_counts([100.0, 400.0], 120.0, 50) == (1, 1, 0)
    assert match_counts([300.0], 120.0, 50) == (0, 1, 1)
    assert match_counts([], 120.0, 50) == (0, 0, 1)
    assert match_counts([10.0], np.nan, 50) == (0, 1, 0)
    precision, recall, f1 = prf(np.array([[1, 1, 0], [0, 1, 1], [1, 0, 0]]))
    assert precision == pytest.approx(0.5) and recall == pytest.approx(2 / 3) and f1 == pytest.approx(4 / 7)
    counts = np.array([[1, 0, 0], [0, 0, 1], [1, 1, 0], [0, 2, 1]])
    assert f1_statistic(counts)(np.array([0, 1]), None) == pytest.approx(2 / 3)


def test_residual_statistics_count_missing_picks_as_misses() -> None:
    residuals = np.array([0.05, -0.15, 0.4, np.nan])
    assert bootstrap_statistic("hit", 0.1)(residuals, None) == 0.25
    assert bootstrap_statistic("hit", 0.2)(residuals, None) == 0.5
    assert bootstrap_statistic("MAE")(residuals, None) == pytest.approx(0.2)
    assert bootstrap_statistic("RMSE")(residuals, None) == pytest.approx(np.sqrt((0.05**2 + 0.15**2 + 0.4**2) / 3))


def test_threshold_tuned_on_dev_maximises_f1() -> None:
    t = np.arange(2000)
    probs, onsets = [], []
    for onset in (500, 900, 1300):
        p = np.zeros((3, 2000))
        p[0] = 0.6 * np.exp(-0.5 * ((t - onset) / 10) ** 2) + 0.35 * np.exp(-0.5 * ((t - 1800) / 10) ** 2)
        probs.append(p)
        onsets.append(onset)
    # A spurious peak of 0.35 on every record: the best threshold lies above it and below the true 0.6.
    threshold = tune_threshold(probs, np.array(onsets, dtype=float), 0, 100.0)
    assert 0.35 < threshold <= 0.6


def test_classic_pickers_on_a_real_dfdp_record() -> None:
    wave, attrs = _record()
    p = attrs["trace_P_arrival_sample"]
    window = wave[:, int(p) - 1500 : int(p) + 1500]
    stalta = StaLtaAic().window_onsets(window, 100.0)["P"]
    assert abs(stalta - 1500) < 50  # within 0.5 s of the analyst's P on a clear record
    ar = ArPicker().window_onsets(window, 100.0)
    assert abs(ar["P"] - 1500) < 100
    baer = BaerPicker().window_onsets(window, 100.0)["P"]
    assert np.isnan(baer) or 0 < baer < 3000
    picks = StaLtaAic().record_picks(wave, 100.0)["P"]
    assert min(abs(np.array(picks) - p)) < 50
    assert len(grid_settings(ArPicker())) == 8 and len(grid_settings(StaLtaAic())) == 6


def test_windows_place_the_analyst_pick_and_crops_keep_labels() -> None:
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal((3, 9000)).astype(np.float32) for _ in range(4)]
    records = Records(
        waves,
        np.array([4000.0, 3000.0, np.nan, 5000.0]),
        np.array([4500.0, np.nan, 6000.0, 5600.0]),
        np.array(["a", "a", "b", "c"]),
        np.array(["X.A", "X.B", "X.C", "X.D"]),
        np.array(["ZNE", "Z", "ZNE", "ZNE"]),
    )
    pw = pick_windows(records, "P", 3000, seed=0)
    assert list(pw.record) == [0, 1, 3] and ((pw.onset >= 300) & (pw.onset <= 2700)).all()
    for wave, onset, index in zip(pw.waveforms, pw.onset, pw.record, strict=True):
        start = int(records.p_sample[index] - onset)
        np.testing.assert_array_equal(wave, records.waveforms[index][:, start : start + 3000])
    windows, is_event, owner = detection_windows(records, 3000, seed=0)
    assert windows.shape == (5, 3, 3000) and list(owner) == [0, 0, 1, 3, 3]
    assert is_event.sum() == 3 and (~is_event).sum() == 2  # P at 30 s leaves no 30 s of noise before it
    crops = training_crops(records, 3000, per_record=5, seed=1)
    assert len(crops) == 20
    finite = np.isfinite(crops.p_sample)
    assert ((crops.p_sample[finite] >= 0) & (crops.p_sample[finite] < 3000)).all()
    vertical = records.vertical_only()
    assert np.abs(vertical.waveforms[0][1:]).max() == 0 and vertical.components[0] == "Z"


def test_sliding_probabilities_cover_the_record() -> None:
    def predict(batch: np.ndarray) -> np.ndarray:
        out = np.zeros((len(batch), 3, batch.shape[-1]))
        out[:, 2] = 1.0
        return out

    probs = sliding_probabilities(predict, np.zeros((3, 9001), np.float32), 3000)
    assert probs.shape == (3, 9001) and np.allclose(probs[2], 1.0)


def test_figures_compare_hfm_with_the_strongest_baseline() -> None:
    rng = np.random.default_rng(0)
    n_records, n_picks = 12, 10
    events = np.repeat(np.arange(6), 2).astype(str)
    records = Records([np.zeros((3, 10))] * n_records, np.zeros(n_records), np.zeros(n_records), events,
                      events, np.array(["ZNE"] * n_records))  # fmt: skip
    is_event = np.array([True, False] * 6)
    windows = {
        phase: type("W", (), {"event_id": events[:n_picks], "onset": np.zeros(n_picks)})() for phase in ("P", "S")
    }
    windows["detection"] = (None, is_event, np.arange(12))

    def method(name: str, spread: float, tp: int) -> MethodScores:
        counts = np.array([[tp, 1 - tp, 1 - tp]] * n_records)
        residuals = {p: rng.normal(0, spread, n_picks) for p in ("P", "S")}
        return MethodScores(name, residuals, {"P": counts, "S": counts}, is_event + rng.normal(0, spread, 12))

    results = [method("hfm", 0.05, 1), method("good", 0.1, 1), method("bad", 2.0, 0)]
    figures = figures_from(results, "hfm", records, windows, n_resamples=200)
    by_name = {f.name: f for f in figures}
    f1 = by_name["seismic DFDP: P F1, hfm vs good"]
    assert f1.value == 1.0 and f1.baseline == 1.0 and f1.others == {"bad": 0.0} and f1.outcome == "tie"
    mae = by_name["seismic DFDP: P MAE (s), hfm vs good"]
    assert mae.value < mae.baseline and not mae.higher_is_better and mae.n_test == n_picks
    assert any(f.task == "seismic/detection" for f in figures)


def test_band_pass_front_end_is_causal_and_removes_the_microseism() -> None:
    from hfm.seismic.data.records import band_pass

    t = np.arange(6000) / 100.0
    slow, fast = np.sin(2 * np.pi * 0.2 * t), np.sin(2 * np.pi * 10 * t)
    out = band_pass(np.stack([slow, fast, np.zeros_like(t)])[None], 100.0, (1.0, 45.0))[0]
    assert np.abs(out[0, 3000:]).max() < 0.01  # 0.2 Hz ocean microseism gone
    assert 0.9 < np.abs(out[1, 3000:]).max() < 1.1  # 10 Hz passes
    impulse = np.zeros((1, 3, 1000))
    impulse[0, 0, 500] = 1.0
    response = band_pass(impulse, 100.0, (1.0, 45.0))[0, 0]
    peak = np.abs(response).max()
    # Nothing just before the onset (a zero-phase filter would ring there and pull picks early); the tiny values
    # at the very start are the demeaning step dying away.
    assert np.abs(response[400:500]).max() < 1e-4 * peak and np.argmax(np.abs(response)) >= 500


def _records_with_p_and_s(seed: int, n: int = 4) -> Records:
    """Synthetic 60 s records: noise, a 6 Hz P on the vertical, S 4 s later on the horizontals (stronger)."""
    rng = np.random.default_rng(seed)
    waves, p, s = [], [], []
    for _ in range(n):
        onset = int(rng.integers(1500, 3500))
        wave = 0.05 * rng.standard_normal((3, 6000))
        t = np.arange(6000 - onset) / 100.0
        wave[0, onset:] += np.sin(2 * np.pi * 6 * t) * np.exp(-t / 1.5)
        wave[1:, onset + 400 :] += 2 * np.sin(2 * np.pi * 4 * t[:-400]) * np.exp(-t[:-400] / 2.0)
        waves.append(wave.astype(np.float32))
        p.append(onset)
        s.append(onset + 400)
    ids = np.array([f"ev{seed}-{i}" for i in range(n)])
    return Records(waves, np.array(p, float), np.array(s, float), ids, ids, np.array(["ZNE"] * n))


def _fooled_predictor(batch: np.ndarray) -> np.ndarray:
    """A picker whose P maximum sits on S (as the hfm picker's often does) and whose true P peak is weaker and
    0.3 s late; S is found 0.3 s late."""
    t = np.arange(batch.shape[-1])
    out = np.zeros((len(batch), 3, batch.shape[-1]))
    for i, window in enumerate(batch):
        bumps = {0: [], 1: []}
        if (np.abs(window[0]) > 0.5).any():
            bumps[0].append((int(np.argmax(np.abs(window[0]) > 0.5)) + 30, 0.6))
        if (np.abs(window[1]) > 0.5).any():
            first_s = int(np.argmax(np.abs(window[1]) > 0.5))
            bumps[0].append((first_s, 0.9))
            bumps[1].append((first_s + 30, 0.9))
        for row, found in bumps.items():
            for centre, height in found:
                out[i, row] = np.maximum(out[i, row], height * np.exp(-(((t - centre) / 10.0) ** 2)))
    out[:, 2] = np.clip(1 - out[:, 0] - out[:, 1], 0, 1)
    return out


def test_onset_rules_are_chosen_on_dev_and_place_the_picks_on_test() -> None:
    from hfm.seismic.benchmarks.picking import PickBenchConfig, evaluation_windows, score_model

    dev, test = _records_with_p_and_s(1), _records_with_p_and_s(2)
    config = PickBenchConfig()
    windows = evaluation_windows(test, config)
    plain = score_model("plain", _fooled_predictor, dev, test, config, windows)
    ruled = score_model("ruled", _fooled_predictor, dev, test, config, windows, onset_rules=True)
    assert plain.rules["P"] == {"window onset": "maximum, none", "record picks": "none"}
    assert plain.thresholds["P"] == tune_threshold(
        [sliding_probabilities(_fooled_predictor, w, 3000) for w in dev.waveforms], dev.p_sample, 0, 100.0
    )
    hit = {name: scores.summary() for name, scores in (("plain", plain), ("ruled", ruled))}
    assert hit["plain"]["P hit 0.2 s"] == 0.0 and hit["plain"]["S hit 0.2 s"] == 0.0  # maxima on S, S 0.3 s late
    assert ruled.rules["P"]["window onset"].startswith("earliest peak") and "AIC" in ruled.rules["P"]["window onset"]
    assert "AIC" in ruled.rules["S"]["window onset"]
    assert hit["ruled"]["P hit 0.1 s"] == 1.0 and hit["ruled"]["S hit 0.1 s"] == 1.0
    assert hit["ruled"]["S F1"] == 1.0 and hit["plain"]["S F1"] == 1.0  # 0.3 s is within the 0.5 s match either way


def test_scores_are_the_same_in_a_worker_process_as_in_this_one() -> None:
    """The benchmark scores its methods side by side in spawned workers (`run_job`, `scored`): every number must be
    the one this process gets, for a neural picker (at one thread) and a classic one."""
    import torch

    from hfm.seismic.benchmarks.picking import EvaluationSet, PickBenchConfig, run_job, scored
    from hfm.seismic.models import PhasePicker
    from hfm.seismic.tokenizer import WaveformTokenizer
    from hfm.shared.models.trunk import TrunkConfig
    from hfm.shared.parallel import parallel_map

    torch.manual_seed(0)
    picker = PhasePicker(WaveformTokenizer(3, 20), TrunkConfig(width=32, depth=1, heads=2)).eval()
    evaluation = EvaluationSet("", _records_with_p_and_s(2), _records_with_p_and_s(1), PickBenchConfig())
    jobs = [(scored, (evaluation, ("model", "picker", picker, True))), (scored, (evaluation, ("classic", StaLtaAic())))]
    here = [run_job(job) for job in jobs]
    there = parallel_map(run_job, jobs, 2)
    for mine, theirs in zip(here, there, strict=True):
        assert (mine.name, mine.thresholds, mine.dev_f1, mine.rules) == (
            theirs.name, theirs.thresholds, theirs.dev_f1, theirs.rules
        )  # fmt: skip
        assert mine.summary(evaluation.windows["detection"][1]) == theirs.summary(evaluation.windows["detection"][1])
        for phase in mine.counts:
            np.testing.assert_array_equal(mine.counts[phase], theirs.counts[phase])
            np.testing.assert_array_equal(mine.residuals[phase], theirs.residuals[phase])
