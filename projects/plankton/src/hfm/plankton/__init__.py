"""HFM plankton domain: Plankton images from many instruments: EcoTaxa TSV, classification and traits."""
