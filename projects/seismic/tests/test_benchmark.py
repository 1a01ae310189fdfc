import numpy as np

from hfm.seismic.benchmark import cut_event_windows, figures, loader_speed, plot_efficiency, summarise_efficiency
from hfm.seismic.reference_data import dummy_windows, theoretical_onsets, tohoku_trace, tohoku_window
from hfm.seismic.windows import LabelledWindows


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


def test_loader_speed_and_figures_contract(dummy_dir):
    speed = loader_speed(dummy_dir, passes=1)
    assert speed["hfm_windows_per_s"] > 0 and speed["seisbench_windows_per_s"] > 0
    report = {
        "results": {
            "synthetic": [
                {"method": "hfm picker (pretrained)", "detection_auc": 0.9, "p_mae_s": 0.2, "phase_mcc": 0.5},
                {"method": "STA/LTA", "detection_auc": 0.8, "p_mae_s": 0.5, "phase_mcc": None},
                {"method": "AIC", "detection_auc": None, "p_mae_s": 0.4, "phase_mcc": None},
            ]
        },
        "loader": speed,
    }
    found = figures(report)
    assert {f["name"] for f in found} >= {"seismic synthetic: P onset MAE, hfm vs AIC"}
    for figure in found:
        assert set(figure) <= {"name", "value", "baseline", "ratio", "unit", "command", "notes"}
    mae = next(f for f in found if "AIC" in f["name"])
    assert mae["ratio"] == 0.5


def test_label_efficiency_is_summarised_over_seeds_and_reported_as_figures(tmp_path):
    rows = [
        {"fraction": 0.1, "start": start, "seed": seed, "detection_auc": auc, "phase_mcc": None, "p_mae_s": 0.5}
        for start, aucs in (("pretrained", (0.8, 0.9, 1.0)), ("scratch", (0.6, 0.7, 0.8)))
        for seed, auc in enumerate(aucs)
    ]
    summary = summarise_efficiency(rows)
    pretrained = next(r for r in summary if r["start"] == "pretrained")
    mean, low, high = pretrained["detection_auc"]
    assert pretrained["seeds"] == 3 and pretrained["phase_mcc"] is None
    # mean 0.9, s = 0.1, t(0.975, 2) = 4.303: half-width 0.248
    assert abs(mean - 0.9) < 1e-12 and abs((high - low) / 2 - 4.3027 * 0.1 / 3**0.5) < 1e-3
    report = {"results": {}, "loader": {"hfm_windows_per_s": 2.0, "seisbench_windows_per_s": 1.0}}
    found = {f["name"]: f for f in figures(report | {"label_efficiency_summary": summary})}
    auc = found["seismic label efficiency, 10% labels: detection ROC-AUC, pretrained vs scratch"]
    assert abs(auc["ratio"] - 0.9 / 0.7) < 1e-9 and "mean of 3 seeds" in auc["notes"]
    assert found["seismic label efficiency, 10% labels: P onset MAE, pretrained vs scratch"]["ratio"] == 1.0
    png = plot_efficiency(summary, 2048, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
