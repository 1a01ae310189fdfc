"""What hfm-plankton offers to the core (see `hfm domains`). Lists only implemented features."""

from hfm.shared.plugins import DomainPlugin

plugin = DomainPlugin(
    name="plankton",
    summary="Plankton images from many instruments: EcoTaxa TSV, classification and traits.",
)
