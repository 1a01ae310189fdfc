"""HFM core: contracts, curation, dataset cards, domain plugins, the trainer and evaluation shared by all domains."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hfm-shared")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"
