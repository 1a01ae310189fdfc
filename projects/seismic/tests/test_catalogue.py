import pandas as pd
from obspy import UTCDateTime
from obspy.core.event import Catalog, Event, Origin, Pick, WaveformStreamID

from hfm.seismic.readers.catalogue import read_picks, write_quakeml


def test_quakeml_picks_read_with_their_source(tmp_path):
    event = Event(resource_id="smi:local/event/ev42")
    event.origins.append(Origin(time=UTCDateTime(2020, 1, 1), latitude=47.0, longitude=11.0, depth=8000.0))
    wid = WaveformStreamID(network_code="BW", station_code="RJOB", location_code="")
    event.picks += [
        Pick(time=UTCDateTime(2020, 1, 1, 0, 0, 5), phase_hint="Pg", waveform_id=wid),
        Pick(time=UTCDateTime(2020, 1, 1, 0, 0, 8), phase_hint="Sg", waveform_id=wid),
        Pick(time=UTCDateTime(2020, 1, 1, 0, 0, 9), phase_hint="Lg", waveform_id=wid),  # not P or S: left out
    ]
    path = tmp_path / "events.xml"
    Catalog([event]).write(str(path), format="QUAKEML")
    picks = read_picks(path)
    assert list(picks["phase"]) == ["P", "S"]
    assert picks["event_id"].iloc[0] == "ev42" and picks["source_depth_km"].iloc[0] == 8.0
    assert UTCDateTime(picks["time"].iloc[1]) - UTCDateTime(picks["time"].iloc[0]) == 3.0


def test_picks_round_trip_through_quakeml(tmp_path):
    table = pd.DataFrame(
        [
            {
                "network": "BW",
                "station": "RJOB",
                "location": "",
                "phase": "P",
                "time": "2009-08-24T00:20:07.7",
                "probability": 0.9,
            },
            {
                "network": "BW",
                "station": "RJOB",
                "location": "",
                "phase": "S",
                "time": "2009-08-24T00:20:09.2",
                "probability": 0.7,
            },
        ]
    )
    path = write_quakeml(table, tmp_path / "picks.xml")
    back = read_picks(path)
    assert list(back["phase"]) == ["P", "S"] and list(back["station"]) == ["RJOB", "RJOB"]
