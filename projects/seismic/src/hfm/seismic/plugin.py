"""What hfm-seismic offers to the core (see `hfm domains`). Lists only implemented features."""

from hfm.seismic import models as _models  # noqa: F401  (registers seismic-picker-* and seismic-mae-*)
from hfm.seismic.seisbench_format import SeisBenchFormat
from hfm.shared.plugins import DomainPlugin

plugin = DomainPlugin(
    name="seismic",
    summary="Earthquake waveforms: ObsPy readers, SeisBench format, phase picking and detection.",
    readers=(
        "every ObsPy waveform format (MSEED, SAC, GSE2, SEISAN, SEGY, WAV, ...)",
        "seisbench (metadata.csv + waveforms.hdf5)",
        "picks: QuakeML (ObsPy event formats) or CSV",
    ),
    dataset_formats={"seisbench": SeisBenchFormat},
)
