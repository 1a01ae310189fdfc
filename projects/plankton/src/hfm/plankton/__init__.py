"""HFM plankton domain: plankton images from many instruments, EcoTaxa in and out, classification and traits."""

__version__ = "0.1.0"
