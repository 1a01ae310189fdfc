import numpy as np

from hfm.seismic.benchmarks.loader import loader_figure, loader_speed
from hfm.seismic.data.reference import dummy_windows, theoretical_onsets, tohoku_trace, tohoku_window
from hfm.seismic.data.windows import LabelledWindows
from hfm.seismic.experiments import cut_event_windows


def test_iasp91_onsets_are_ordered_and_plausible():
    p, s = theoretical_onsets(10.0, 1.0)  # 111 km
    assert 15 < p < 22 and 1.6 < s / p < 1.85


def test_dummy_gets_theoretical_onsets_inside_its_traces(dummy_dir):
    windows = dummy_windows(dummy_dir, split="dev")
    assert windows.waveforms.shape == (10, 3, 6000)
    assert np.isfinite(windows.p_sample).all()
    assert (windows.p_sample > 0).all() and (windows.s_sample[np.isfinite(windows.s_sample)] > windows.p_sample).all()


def test_tohoku_window_holds_the_analyst_pick():
    trace, pick = tohoku_trace()
    assert abs((pick - trace.stats.starttime) - 301.506) < 0.01
    window = tohoku_window(samples=1000, p_offset_s=3.7)
    assert window.p_sample[0] == 370
    z = window.waveforms[0, 0]
    assert np.abs(window.waveforms[0, 1:]).max() == 0 and z.std() > 0


def test_cut_event_windows_places_p_and_noise():
    long = np.random.default_rng(0).standard_normal((3, 3, 5000)).astype(np.float32)
    traces = LabelledWindows(long, np.array([3000.0, 500.0, np.nan]), np.array([3600.0, np.nan, np.nan]), 100.0)
    windows = cut_event_windows(traces, 1000, seed=0)
    # trace 0: an event window and a noise window before P; trace 1: P too early for noise; trace 2: noise only.
    assert len(windows) == 4 and windows.is_event.sum() == 2
    assert np.all((windows.p_sample[windows.is_event] >= 100) & (windows.p_sample[windows.is_event] < 600))


def test_loader_speed_and_figure(dummy_dir):
    speed = loader_speed(dummy_dir, passes=1)
    assert speed["hfm_windows_per_s"] > 0 and speed["seisbench_windows_per_s"] > 0
    figure = loader_figure(dummy_dir, repeats=2)
    assert figure.n_test == 2 and figure.higher_is_better and figure.value > 0 and figure.baseline > 0
