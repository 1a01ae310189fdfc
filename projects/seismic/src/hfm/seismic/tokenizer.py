"""The seismic tokenizer: 1D patches across components into the shared trunk.

A window (B, 3, T) in ZNE order is cut into T // L patches of L samples; each patch holds all three components
(flattened component-major, so a patch vector reads as (component, time)), and its coordinate is the patch index
along time. The core's series tokenizer does exactly this cutting; the seismic one adds what waveforms need before
it: each window demeaned and scaled (raw counts span decades between stations). Two scalings, a model option:

- `window`: one standard deviation over all components, which keeps the amplitude ratio between components;
- `component`: each component by its own standard deviation, so a station whose horizontals are noisier (or
  recorded with another gain) than its vertical shows the network-independent shape of each trace
  (issue 14: the NCEDC training stations have quiet horizontals, the DFDP test stations noisy ones).
"""

from __future__ import annotations

from typing import Literal, get_args

import torch

from hfm.shared.errors import HFMError
from hfm.shared.models.generic_tokenizers import SeriesTokenizer

Normalization = Literal["window", "component"]
NORMALIZATIONS: tuple[str, ...] = get_args(Normalization)


def check_normalization(value: str, where: str) -> Normalization:
    if value not in NORMALIZATIONS:
        raise HFMError(f"{where}: normalization must be one of {', '.join(NORMALIZATIONS)}, got {value!r}")
    return value  # type: ignore[return-value]


class WaveformTokenizer(SeriesTokenizer):
    def __init__(self, components: int = 3, patch_len: int = 25, normalization: Normalization = "window") -> None:
        super().__init__(channels=components, patch_len=patch_len)
        self.normalization = check_normalization(normalization, "WaveformTokenizer")

    @staticmethod
    def normalize(x: torch.Tensor, normalization: Normalization = "window") -> torch.Tensor:
        """(B, C, T) -> each window demeaned per component and divided by its standard deviation over all
        components (`window`) or by each component's own (`component`)."""
        x = x - x.mean(dim=-1, keepdim=True)
        overall = x.flatten(1).std(dim=1)[:, None, None] + 1e-8
        if normalization == "component":
            # A dead or zeroed component (float rounding after demeaning a constant) must stay near zero, not be
            # blown up to unit noise: no component is scaled up past 1000x the window's own level.
            return x / torch.maximum(x.std(dim=-1, keepdim=True), 1e-3 * overall)
        return x / overall

    def config(self) -> dict[str, int | str]:
        # The series tokenizer's config under this kind, plus the one option the seismic tokenizer adds.
        return {**super().config(), "kind": "waveform", "normalization": self.normalization}
