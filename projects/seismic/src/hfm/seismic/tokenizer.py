"""The seismic tokenizer: 1D patches across components into the shared trunk.

A window (B, 3, T) in ZNE order is cut into T // L patches of L samples; each patch holds all three components
(flattened component-major, so a patch vector reads as (component, time)), and its coordinate is the patch index
along time. The core's series tokenizer does exactly this cutting; the seismic one adds what waveforms need before
it: each window demeaned and scaled by its own standard deviation over all components (raw counts span decades
between stations, and a common scale keeps the P/S amplitude ratio between components).
"""

from __future__ import annotations

import torch

from hfm.shared.models.generic_tokenizers import SeriesTokenizer


class WaveformTokenizer(SeriesTokenizer):
    def __init__(self, components: int = 3, patch_len: int = 25) -> None:
        super().__init__(channels=components, patch_len=patch_len)

    @staticmethod
    def normalize(x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> each window demeaned per component, divided by its standard deviation over all components."""
        x = x - x.mean(dim=-1, keepdim=True)
        return x / (x.flatten(1).std(dim=1)[:, None, None] + 1e-8)

    def config(self) -> dict[str, int | str]:
        return {"kind": "waveform", "channels": self.channels, "patch_len": self.patch_len}
