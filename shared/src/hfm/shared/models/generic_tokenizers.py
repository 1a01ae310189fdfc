"""Tokenizers of the core for data with no domain package: channel-first series and images.

They implement `hfm.shared.models.tokenizer.Tokenizer` and are the reference a domain's tokenizer follows. A patch
holds every channel of its window, flattened channel-major, so a patch vector reads as (channels, window).
"""

from __future__ import annotations

import torch

from hfm.shared.errors import HFMError


class SeriesTokenizer:
    """(B, C, T) series cut into non-overlapping windows of `patch_len` samples along T: N = T // patch_len.

    A trailing remainder shorter than a window is dropped by `patchify` and comes back as zeros from `unpatchify`.
    """

    coord_dims = 1

    def __init__(self, channels: int, patch_len: int) -> None:
        if channels < 1 or patch_len < 1:
            raise HFMError(f"SeriesTokenizer needs channels >= 1 and patch_len >= 1, got {channels}, {patch_len}")
        self.channels = channels
        self.patch_len = patch_len
        self.patch_dim = channels * patch_len

    def _tokens(self, data_shape: tuple[int, ...]) -> int:
        if len(data_shape) != 2 or data_shape[0] != self.channels:
            raise HFMError(f"SeriesTokenizer expects data of shape ({self.channels}, T), got {tuple(data_shape)}")
        tokens = data_shape[1] // self.patch_len
        if tokens == 0:
            raise HFMError(f"series of length {data_shape[1]} is shorter than one patch ({self.patch_len})")
        return tokens

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        tokens = self._tokens(tuple(x.shape[1:]))
        x = x[:, :, : tokens * self.patch_len].reshape(batch, self.channels, tokens, self.patch_len)
        return x.permute(0, 2, 1, 3).reshape(batch, tokens, self.patch_dim)

    def unpatchify(self, patches: torch.Tensor, data_shape: tuple[int, ...]) -> torch.Tensor:
        batch, tokens = patches.shape[:2]
        if tokens != self._tokens(tuple(data_shape)):
            raise HFMError(f"{tokens} patches do not tile data of shape {tuple(data_shape)}")
        x = patches.reshape(batch, tokens, self.channels, self.patch_len).permute(0, 2, 1, 3)
        x = x.reshape(batch, self.channels, tokens * self.patch_len)
        remainder = data_shape[1] - tokens * self.patch_len
        return torch.nn.functional.pad(x, (0, remainder)) if remainder else x

    def coordinates(self, data_shape: tuple[int, ...]) -> torch.Tensor:
        return torch.arange(self._tokens(tuple(data_shape)), dtype=torch.float32)[:, None]

    def config(self) -> dict[str, int | str]:
        return {"kind": "series", "channels": self.channels, "patch_len": self.patch_len}


class ImageTokenizer:
    """(B, C, H, W) images cut into `patch` x `patch` squares, row-major: N = (H // patch) * (W // patch).

    Coordinates are (row, column) in patch units. Pixels beyond the last full square are dropped by `patchify`
    and come back as zeros from `unpatchify`.
    """

    coord_dims = 2

    def __init__(self, channels: int, patch: int) -> None:
        if channels < 1 or patch < 1:
            raise HFMError(f"ImageTokenizer needs channels >= 1 and patch >= 1, got {channels}, {patch}")
        self.channels = channels
        self.patch = patch
        self.patch_dim = channels * patch * patch

    def grid(self, data_shape: tuple[int, ...]) -> tuple[int, int]:
        if len(data_shape) != 3 or data_shape[0] != self.channels:
            raise HFMError(f"ImageTokenizer expects data of shape ({self.channels}, H, W), got {tuple(data_shape)}")
        rows, cols = data_shape[1] // self.patch, data_shape[2] // self.patch
        if rows == 0 or cols == 0:
            raise HFMError(f"image of size {data_shape[1]}x{data_shape[2]} is smaller than one patch ({self.patch})")
        return rows, cols

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        batch, p = x.shape[0], self.patch
        rows, cols = self.grid(tuple(x.shape[1:]))
        x = x[:, :, : rows * p, : cols * p].reshape(batch, self.channels, rows, p, cols, p)
        return x.permute(0, 2, 4, 1, 3, 5).reshape(batch, rows * cols, self.patch_dim)

    def unpatchify(self, patches: torch.Tensor, data_shape: tuple[int, ...]) -> torch.Tensor:
        batch, p = patches.shape[0], self.patch
        rows, cols = self.grid(tuple(data_shape))
        if patches.shape[1] != rows * cols:
            raise HFMError(f"{patches.shape[1]} patches do not tile data of shape {tuple(data_shape)}")
        x = patches.reshape(batch, rows, cols, self.channels, p, p).permute(0, 3, 1, 4, 2, 5)
        x = x.reshape(batch, self.channels, rows * p, cols * p)
        pad_h, pad_w = data_shape[1] - rows * p, data_shape[2] - cols * p
        return torch.nn.functional.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x

    def coordinates(self, data_shape: tuple[int, ...]) -> torch.Tensor:
        rows, cols = self.grid(tuple(data_shape))
        r, c = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
        return torch.stack([r.reshape(-1), c.reshape(-1)], dim=1).float()

    def config(self) -> dict[str, int | str]:
        return {"kind": "image", "channels": self.channels, "patch": self.patch}


GENERIC_TOKENIZERS = {"series": SeriesTokenizer, "image": ImageTokenizer}


def tokenizer_from_config(config: dict) -> SeriesTokenizer | ImageTokenizer:
    """A generic tokenizer from its `config()` dict, e.g. {"kind": "series", "channels": 3, "patch_len": 20}."""
    params = dict(config)
    kind = params.pop("kind", None)
    if kind not in GENERIC_TOKENIZERS:
        raise HFMError(f"tokenizer kind {kind!r} unknown; core tokenizers: {', '.join(GENERIC_TOKENIZERS)}")
    try:
        return GENERIC_TOKENIZERS[kind](**params)
    except TypeError as error:
        raise HFMError(f"tokenizer {kind!r}: {error}") from error
