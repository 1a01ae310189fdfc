"""Streaming a sharded SeisBench dataset into training (issue 18): one shard's metadata.csv and HDF5 at a time.

Each trace of the chosen split becomes the window the in-memory path makes of it (`seisbench_windows`: resampled,
cut or zero-padded to `samples` from its start, onsets beyond the window dropped), then the task's training item:
the normalised window for masked autoencoding, or (waveform, phase targets, detection target) for picking. The
component augmentation draws from the stream's per-shard generator instead of the window's place in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from hfm.seismic.data.augment import ComponentAugment
from hfm.seismic.data.windows import augmented_mae_input, picking_item, read_trace, split_rows
from hfm.seismic.format import SeisBenchDataset
from hfm.seismic.tokenizer import Normalization
from hfm.shared.shard_layout import ShardManifest
from hfm.shared.shard_loader import ShardReader

SAMPLING_RATE = 100.0


def fit_window(wave: np.ndarray, p: float, s: float, length: int) -> tuple[np.ndarray, float, float]:
    """Cut or zero-pad a (3, T) trace to `length` samples; an onset outside the window becomes NaN."""
    out = np.zeros((3, length), dtype=np.float32)
    out[:, : min(length, wave.shape[-1])] = wave[:, :length]
    return out, (p if p < length else np.nan), (s if s < length else np.nan)


class SeismicShards(ShardReader):
    """The windows of one split of each shard, as masked autoencoding (`sigma_s` None) or the picker reads them."""

    def __init__(
        self,
        split: str | None,
        samples: int,
        augment: ComponentAugment,
        patch_len: int = 25,
        normalization: Normalization = "window",
        sigma_s: float | None = None,
    ) -> None:
        self.split, self.samples, self.augment = split, samples, augment
        self.patch_len, self.normalization, self.sigma_s = patch_len, normalization, sigma_s

    def count(self, shard: Path, manifest: ShardManifest) -> int:
        dataset = SeisBenchDataset(shard)
        return len(split_rows(dataset, self.split))

    def read(self, shard: Path, rng: np.random.Generator) -> Iterator[Any]:
        dataset = SeisBenchDataset(shard)
        try:
            for row in split_rows(dataset, self.split):
                wave, p, s = fit_window(*read_trace(dataset, int(row), SAMPLING_RATE), self.samples)
                index = int(rng.integers(2**31))  # the augmentation's draw, repeated by a resumed run
                yield self.item(wave, p, s, index)
        finally:
            dataset.close()

    def item(self, wave: np.ndarray, p: float, s: float, index: int) -> Any:
        if self.sigma_s is not None:
            return picking_item(wave, p, s, self.sigma_s * SAMPLING_RATE, self.augment, index)
        wave = wave[:, : self.samples // self.patch_len * self.patch_len]  # whole patches, as UnlabelledDataset
        return augmented_mae_input(wave, self.augment, index, self.normalization)  # an inactive augment is a no-op
