import numpy as np

from hfm.seismic.benchmarks.loader import loader_figure, loader_rates
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
    rates = loader_rates(dummy_dir, repeats=2)
    assert rates.ours.shape == rates.theirs.shape == (2,) and rates.items > 0
    assert (rates.ours > 0).all() and (rates.theirs > 0).all()
    figure = loader_figure(dummy_dir, repeats=2)
    assert figure.n_test == 2 and figure.higher_is_better and figure.value > 0 and figure.baseline > 0
    assert figure.unit == "windows/s" and figure.interval_method == "paired bootstrap over 2 alternating repeats"


def test_benchmark_verb_runs_the_plugin_benchmarks_through_the_shared_harness(tmp_path, monkeypatch):
    """`hfm seismic benchmark` = the harness with --only seismic-picking: partial output, never results.json."""
    import json

    from typer.testing import CliRunner

    import hfm.seismic.benchmarks
    from hfm.seismic.cli import app
    from hfm.shared.testing.figures import example_figure

    figure = example_figure(name="seismic test: a winning figure")
    monkeypatch.setattr(hfm.seismic.benchmarks, "bench_figures", lambda: [figure])  # the full run takes 15 minutes
    result = CliRunner().invoke(app, ["benchmark", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "partial" / "seismic-picking.json").read_text())
    assert saved["run"]["only"] == ["seismic-picking"] and not (tmp_path / "results.json").exists()
    assert [(f["name"], f["value"], f["outcome"]) for f in saved["figures"]] == [(figure.name, 0.40, "win")]
