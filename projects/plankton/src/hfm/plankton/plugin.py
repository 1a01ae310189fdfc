"""What hfm-plankton offers to the core (see `hfm domains`). Lists only implemented features."""

from hfm.plankton.dataset import EcoTaxaFormat
from hfm.shared.plugins import DomainPlugin

plugin = DomainPlugin(
    name="plankton",
    summary="Plankton images from many instruments: EcoTaxa TSV in and out, curation, traits in micrometres.",
    readers=("ecotaxa-tsv", "ecotaxa-zip", "image-folder", "ifcb-bin"),
    dataset_formats={"ecotaxa": EcoTaxaFormat},
)
