"""The data catalogue: every external data set HFM uses, where it lies (offline mirror, fetch cache) and how to get
it (`hfm data fetch NAME`, checksum-verified and resumable, with pooch)."""

from hfm.shared.catalogue.entries import Catalogue, DataFile, DataSet, PackagedData, load_catalogue
from hfm.shared.catalogue.locations import DataUnavailable, cache_dir, data_root, locate, mirror_dir

__all__ = [
    "Catalogue",
    "DataFile",
    "DataSet",
    "DataUnavailable",
    "PackagedData",
    "cache_dir",
    "data_root",
    "load_catalogue",
    "locate",
    "mirror_dir",
]
