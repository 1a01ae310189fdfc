"""The AI-ready format: the core's `hfm-arrays` (a real domain names its community's format here)."""

from hfm.shared.arraystore import FORMAT_NAME, ArrayStoreFormat

__all__ = ["FORMAT_NAME", "ArrayStoreFormat"]
