"""Patches for the shared trunk: windows of `PATCH_LEN` samples along time (the core's series tokenizer)."""

from hfm.shared.models.generic_tokenizers import SeriesTokenizer

PATCH_LEN = 16


def signal_tokenizer() -> SeriesTokenizer:
    return SeriesTokenizer(channels=1, patch_len=PATCH_LEN)
