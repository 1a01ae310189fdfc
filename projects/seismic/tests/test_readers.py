import numpy as np
import obspy
import pytest

from hfm.seismic.readers import component_of, obspy_formats, read_stream, stream_to_array
from hfm.shared.errors import HFMError


def test_obspy_formats_include_the_community_ones():
    assert {"MSEED", "SAC", "GSE2", "SEISAN", "SEGY"} <= set(obspy_formats())


def test_component_mapping_keeps_zne_and_drops_the_hydrophone():
    assert [component_of(c) for c in ["HHZ", "HH1", "HH2", "HHH", "BDF"]] == ["Z", "N", "E", None, None]


def test_ocean_bottom_station_reads_into_zne_without_the_hydrophone(seismic_dir):
    folder = seismic_dir / "obs-miniseed"
    stream = obspy.Stream()
    for path in sorted(folder.iterdir()):
        stream += read_stream(path)
    assert len(stream) == 4
    start = min(t.stats.starttime for t in stream)
    array, present = stream_to_array(stream, start, 3751, 50.0)
    assert present == "ZNE" and array.shape == (3, 3751)
    z = stream.select(channel="HHZ")[0]
    np.testing.assert_allclose(array[0, : z.stats.npts], z.data.astype(np.float32))


def test_unreadable_file_names_file_and_reason(tmp_path):
    bad = tmp_path / "x.mseed"
    bad.write_text("garbage")
    with pytest.raises(HFMError, match=r"x\.mseed: not a waveform file"):
        read_stream(bad)
