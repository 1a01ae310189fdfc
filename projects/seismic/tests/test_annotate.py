import numpy as np
import obspy
import pytest
import torch

from hfm.seismic.models import PhasePicker
from hfm.seismic.predict import AnnotateConfig, annotate, annotate_array
from hfm.seismic.tokenizer import WaveformTokenizer
from hfm.shared.errors import HFMError
from hfm.shared.models.trunk import TrunkConfig


@pytest.fixture
def picker():
    torch.manual_seed(0)
    return PhasePicker(WaveformTokenizer(3, 20), TrunkConfig(width=32, depth=1, heads=2)).eval()


def test_tokenizer_round_trips_and_normalises():
    tokenizer = WaveformTokenizer(3, 20)
    x = torch.randn(2, 3, 200) * 1000 + 5
    patches = tokenizer.patchify(x)
    assert patches.shape == (2, 10, 60)
    torch.testing.assert_close(tokenizer.unpatchify(patches, (3, 200)), x)
    normal = tokenizer.normalize(x)
    assert abs(float(normal.mean())) < 1e-5 and abs(float(normal.flatten(1).std(dim=1)[0]) - 1) < 1e-4


def test_overlapping_windows_stitch_to_the_single_window_result_where_they_agree(picker):
    # A model that sees only each sample's own value would give identical outputs in every window; ours mixes
    # context, so we check the weaker property that matters: output has the input's length and sums to one.
    data = np.random.default_rng(0).standard_normal((3, 2345)).astype(np.float32)
    probs = annotate_array(picker, data, AnnotateConfig(window=400, overlap=0.5))
    assert probs.shape == (4, 2345)
    np.testing.assert_allclose(probs[:3].sum(axis=0), 1.0, atol=1e-5)
    single = annotate_array(picker, data[:, :400], AnnotateConfig(window=400))
    expected = picker.probabilities(torch.from_numpy(data[None, :, :400]))[0][0].numpy()
    np.testing.assert_allclose(single[:3], expected, atol=1e-5)


def test_stream_shorter_than_one_window(picker):
    stream = obspy.read()
    t0 = stream[0].stats.starttime
    short = stream.slice(t0, t0 + 2.0)  # 201 samples, window 400
    probs, picks = annotate(picker, short, AnnotateConfig(window=400))
    assert len(probs) == 4 and all(t.stats.npts == 201 for t in probs)
    assert probs[0].stats.starttime == t0
    assert list(picks.columns) == ["network", "station", "location", "channel", "phase", "time", "probability"]


def test_stream_with_gap_is_annotated_per_segment(picker):
    stream = obspy.read()
    t0 = stream[0].stats.starttime
    gappy = stream.slice(endtime=t0 + 10) + stream.slice(starttime=t0 + 15)
    probs, picks = annotate(picker, gappy, AnnotateConfig(window=400, p_threshold=0.0, s_threshold=0.0))
    starts = sorted({t.stats.starttime.timestamp for t in probs})
    assert starts == [t0.timestamp, (t0 + 15).timestamp]
    assert sorted({t.stats.npts for t in probs}) == [1001, 1500]
    # No pick inside the gap.
    times = [obspy.UTCDateTime(t) for t in picks["time"]]
    assert times and not any(t0 + 10.01 < t < t0 + 15 for t in times)


def test_stream_with_only_a_hydrophone_is_refused(picker):
    stream = obspy.read()
    for trace in stream:
        trace.stats.channel = "HDH"
    with pytest.raises(HFMError, match="no Z/N/E channel"):
        annotate(picker, stream)


def _dfdp_event_stream(station: str) -> obspy.Stream:
    from hfm.shared.sample_data import DataUnavailable, require_data

    try:
        base = require_data("seismic/dfdp-eqcorrscan")
    except DataUnavailable as error:
        pytest.skip(str(error))
    return obspy.read(str(base / "WAV" / "TEST_" / "2013-09-05-0207-35.DFDPC_024_00")).select(station=station)


@pytest.mark.parametrize(("station", "rate"), [("WZ11", 100.0), ("WHYM", 200.0), ("WV04", 250.0), ("WV04", 500.0)])
def test_annotate_dfdp_records_at_any_rate_with_three_two_and_one_component(picker, station, rate):
    """Real DFDP event records at their own rate (500 Hz: the 250 Hz record interpolated) and with Z alone."""
    stream = _dfdp_event_stream(station)
    assert len(stream) == 3
    if rate != stream[0].stats.sampling_rate:
        stream.interpolate(rate, method="lanczos", a=12)
    assert {t.stats.sampling_rate for t in stream} == {rate}
    config = AnnotateConfig(window=400, overlap=0.5)
    start = max(t.stats.starttime for t in stream)
    outputs = {}
    for label, selection in (("ZNE", stream), ("ZN", Stream_of(stream, "ZN")), ("Z", Stream_of(stream, "Z"))):
        probs, picks = annotate(picker, selection, config)
        traces = {t.stats.channel: t for t in probs}
        assert set(traces) == {"MLP", "MLS", "MLN", "MLD"}
        assert {t.stats.sampling_rate for t in probs} == {100.0}
        assert abs(traces["MLP"].stats.starttime - start) <= 0.01
        assert abs(traces["MLP"].stats.npts - 9001) <= 1  # 90 s at 100 Hz, whatever the input rate
        total = traces["MLP"].data + traces["MLS"].data + traces["MLN"].data
        np.testing.assert_allclose(total, 1.0, atol=1e-4)
        outputs[label] = traces["MLP"].data
        assert all(start <= obspy.UTCDateTime(t) <= start + 90.01 for t in picks["time"])
    # The horizontals change the input, so Z alone gives a different (not a broken) result.
    assert not np.allclose(outputs["ZNE"], outputs["Z"])


def Stream_of(stream: obspy.Stream, components: str) -> obspy.Stream:  # noqa: N802 - reads as a constructor
    return obspy.Stream([t for t in stream if t.stats.channel[-1] in components.replace("N", "N1")])
