"""3D patch tokenizer: a (C, X, Y, Z) volume cut into p x p x p cubes, x-major order, for the shared trunk."""

from __future__ import annotations

import torch

from hfm.shared.errors import HFMError


class VolumeTokenizer:
    """(B, C, X, Y, Z) -> (B, N, C p^3) with N = (X/p)(Y/p)(Z/p); coordinates are (i, j, k) in patch units.

    Volumes must divide by p on every axis (the plan's patch sizes do; sliding-window inference pads), so
    `unpatchify` is an exact inverse. A patch vector reads as (channel, dx, dy, dz).
    """

    coord_dims = 3

    def __init__(self, channels: int = 1, patch: int = 8) -> None:
        if channels < 1 or patch < 1:
            raise HFMError(f"VolumeTokenizer needs channels >= 1 and patch >= 1, got {channels}, {patch}")
        self.channels = channels
        self.patch = patch
        self.patch_dim = channels * patch**3

    def grid(self, data_shape: tuple[int, ...]) -> tuple[int, int, int]:
        if len(data_shape) != 4 or data_shape[0] != self.channels:
            raise HFMError(f"VolumeTokenizer expects ({self.channels}, X, Y, Z) volumes, got {tuple(data_shape)}")
        if any(n % self.patch for n in data_shape[1:]):
            raise HFMError(f"volume {tuple(data_shape[1:])} does not divide into {self.patch}^3 patches; pad or crop")
        return tuple(n // self.patch for n in data_shape[1:])  # type: ignore[return-value]

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        gx, gy, gz = self.grid(tuple(x.shape[1:]))
        p, b, c = self.patch, x.shape[0], self.channels
        x = x.reshape(b, c, gx, p, gy, p, gz, p).permute(0, 2, 4, 6, 1, 3, 5, 7)
        return x.reshape(b, gx * gy * gz, self.patch_dim)

    def unpatchify(self, patches: torch.Tensor, data_shape: tuple[int, ...]) -> torch.Tensor:
        gx, gy, gz = self.grid(tuple(data_shape))
        p, b, c = self.patch, patches.shape[0], self.channels
        x = patches.reshape(b, gx, gy, gz, c, p, p, p).permute(0, 4, 1, 5, 2, 6, 3, 7)
        return x.reshape(b, c, gx * p, gy * p, gz * p)

    def coordinates(self, data_shape: tuple[int, ...]) -> torch.Tensor:
        gx, gy, gz = self.grid(tuple(data_shape))
        axes = torch.meshgrid(torch.arange(gx), torch.arange(gy), torch.arange(gz), indexing="ij")
        return torch.stack([a.reshape(-1) for a in axes], dim=1).float()

    def config(self) -> dict[str, int | str]:
        return {"kind": "volume", "channels": self.channels, "patch": self.patch}
