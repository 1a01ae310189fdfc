"""Peer check: `hfm seismic predict`'s QuakeML passes ObsPy's QuakeML 1.2 RelaxNG schema, channel codes included."""

from pathlib import Path

import obspy
import obspy.io.quakeml.core
import torch
from lxml import etree

from hfm.seismic.models import PhasePicker
from hfm.seismic.predict import AnnotateConfig, annotate
from hfm.seismic.readers.catalogue import write_quakeml
from hfm.seismic.tokenizer import WaveformTokenizer
from hfm.shared.models.trunk import TrunkConfig

SCHEMA = Path(obspy.io.quakeml.core.__file__).parent / "data" / "QuakeML-1.2.rng"


def test_annotate_quakeml_is_valid_and_names_the_channel_of_each_pick(tmp_path):
    torch.manual_seed(0)
    picker = PhasePicker(WaveformTokenizer(3, 20), TrunkConfig(width=32, depth=1, heads=2)).eval()
    stream = obspy.read()  # BW.RJOB EHZ/EHN/EHE, a real local event
    # thresholds 0: the untrained picker's peaks are picks, so the file holds both phases
    _, picks = annotate(picker, stream, AnnotateConfig(window=400, p_threshold=0.0, s_threshold=0.0))
    assert set(picks["phase"]) == {"P", "S"}
    path = write_quakeml(picks, tmp_path / "picks.xml")
    schema = etree.RelaxNG(etree.parse(str(SCHEMA)))
    assert schema.validate(etree.parse(str(path))), schema.error_log
    catalog = obspy.read_events(str(path))
    ids = {(p.phase_hint, p.waveform_id.get_seed_string()) for p in catalog[0].picks}
    assert ids == {("P", "BW.RJOB..EHZ"), ("S", "BW.RJOB..EHN")}
