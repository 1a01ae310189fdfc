"""hfm-template: the starting point of a new HFM domain (1-D signals in class folders)."""

__version__ = "0.1.0"
