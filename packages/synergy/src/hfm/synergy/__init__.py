"""HFM cross-domain experiments."""
