import numpy as np

from hfm.seismic.baselines import AicPicker, StaLtaPicker
from hfm.seismic.data.windows import detection_target, phase_targets, synthetic_windows
from hfm.seismic.metrics import score_aic, score_model, score_stalta
from hfm.seismic.synthetic import SyntheticConfig, coloured_noise, generate


def test_generator_is_seeded_and_places_s_after_p():
    a, b = generate(20, seed=3), generate(20, seed=3)
    np.testing.assert_array_equal(a.waveforms, b.waveforms)
    events = a.is_event
    assert 0 < events.sum() < 20
    s_known = events & np.isfinite(a.s_sample)
    assert (a.s_sample[s_known] > a.p_sample[s_known]).all()
    assert np.isnan(a.p_sample[~events]).all()
    # Before P there is only noise (unit std); after P the record is louder, more so at high SNR.
    i = int(np.flatnonzero(events & (a.snr_db > 15))[0])
    p = int(a.p_sample[i])
    assert a.waveforms[i, 0, p : p + 200].std() > 2 * a.waveforms[i, 0, :p].std()


def test_coloured_noise_is_red_with_unit_std():
    trace = coloured_noise(np.random.default_rng(0), 4096, 100.0)
    power = np.abs(np.fft.rfft(trace)) ** 2
    freqs = np.fft.rfftfreq(4096, 0.01)
    assert abs(trace.std() - 1) < 1e-6
    assert power[(freqs > 0.5) & (freqs < 2)].mean() > 10 * power[(freqs > 20) & (freqs < 40)].mean()


def test_targets_follow_seisbench_conventions():
    targets = phase_targets(500, p=100, s=300, sigma=10)
    assert targets[0, 100] == 1.0 and targets[1, 300] == 1.0
    np.testing.assert_allclose(targets.sum(axis=0), 1.0, atol=1e-6)
    detection = detection_target(500, p=100, s=200)
    assert detection[:100].sum() == 0 and detection[100:340].all() and detection[340:].sum() == 0


def test_classic_pickers_beat_chance_on_clear_synthetic_events():
    windows = synthetic_windows(40, seed=1, samples=1000)
    clear = SyntheticConfig(samples=1000, snr_db=(20.0, 25.0), noise_fraction=0.3)
    records = generate(30, seed=2, config=clear)
    from hfm.seismic.data.windows import LabelledWindows

    loud = LabelledWindows(records.waveforms, records.p_sample, records.s_sample, 100.0)
    stalta = score_stalta(StaLtaPicker(), loud)
    aic = score_aic(AicPicker(), loud)
    assert stalta.detection_auc > 0.95
    assert aic.p.mae_s < 0.3 and aic.p.onsets == int(loud.is_event.sum())
    assert stalta.phase_mcc is None and aic.detection_auc is None
    # A perfect model on the first windows: probability 1 exactly at each onset.
    perfect = np.zeros((len(windows), 3, 1000))
    perfect[:, 2] = 1
    for i, (p, s) in enumerate(zip(windows.p_sample, windows.s_sample, strict=True)):
        for row, onset in ((0, p), (1, s)):
            if np.isfinite(onset):
                perfect[i, row, int(onset)], perfect[i, 2, int(onset)] = 1, 0
    best = score_model("perfect", perfect, windows)
    assert best.detection_auc == 1.0 and best.phase_mcc == 1.0 and best.p.rmse_s == 0.0 and best.s.mae_s == 0.0
