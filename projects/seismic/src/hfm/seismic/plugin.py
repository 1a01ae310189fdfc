"""What hfm-seismic offers to the core (see `hfm domains`). Lists only implemented features."""

from hfm.shared.plugins import DomainPlugin

plugin = DomainPlugin(
    name="seismic",
    summary="Earthquake waveforms: ObsPy readers, SeisBench format, phase picking and detection.",
)
