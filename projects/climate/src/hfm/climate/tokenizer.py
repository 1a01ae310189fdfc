"""Spatio-temporal patches per variable: the climate tokenizer in front of the shared trunk.

Data of shape (T, V, H, W) (time, variable, lat, lon; standardised anomalies) is cut into patches of `patch_time`
steps x `patch_lat` x `patch_lon` grid points of ONE variable, as AtmoRep does, so the trunk can attend across
variables. Tokens are ordered (time patch, variable, lat patch, lon patch); each token's coordinates are those four
indices, which the encoder turns into sin-cos positions. A grid that does not divide into patches is padded with
zeros (the climatological anomaly) at its north and east edges and cropped back by `unpatchify`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hfm.shared.errors import HFMError


class FieldTokenizer:
    coord_dims = 4

    def __init__(self, variables: int, patch_time: int = 1, patch_lat: int = 4, patch_lon: int = 4) -> None:
        if min(variables, patch_time, patch_lat, patch_lon) < 1:
            raise HFMError("FieldTokenizer: variables and patch sizes must be >= 1")
        self.variables, self.patch_time, self.patch_lat, self.patch_lon = variables, patch_time, patch_lat, patch_lon
        self.patch_dim = patch_time * patch_lat * patch_lon

    def grid(self, data_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """Patches along (time, lat, lon) for data of shape (T, V, H, W)."""
        if len(data_shape) != 4 or data_shape[1] != self.variables:
            raise HFMError(f"FieldTokenizer expects (time, {self.variables} variables, lat, lon), got {data_shape}")
        steps, _, height, width = data_shape
        if steps % self.patch_time:
            raise HFMError(f"{steps} time steps do not divide into patches of {self.patch_time}")
        return steps // self.patch_time, math.ceil(height / self.patch_lat), math.ceil(width / self.patch_lon)

    def patchify(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, variables, height, width = x.shape
        nt, nh, nw = self.grid(tuple(x.shape[1:]))
        x = F.pad(x, (0, nw * self.patch_lon - width, 0, nh * self.patch_lat - height))
        x = x.reshape(batch, nt, self.patch_time, variables, nh, self.patch_lat, nw, self.patch_lon)
        x = x.permute(0, 1, 3, 4, 6, 2, 5, 7)  # (B, nt, V, nh, nw, pt, ph, pw)
        return x.reshape(batch, nt * variables * nh * nw, self.patch_dim)

    def unpatchify(self, patches: torch.Tensor, data_shape: tuple[int, ...]) -> torch.Tensor:
        steps, variables, height, width = data_shape
        nt, nh, nw = self.grid(tuple(data_shape))
        batch = patches.shape[0]
        x = patches.reshape(batch, nt, variables, nh, nw, self.patch_time, self.patch_lat, self.patch_lon)
        x = x.permute(0, 1, 5, 2, 3, 6, 4, 7).reshape(batch, steps, variables, nh * self.patch_lat, nw * self.patch_lon)
        return x[..., :height, :width]

    def coordinates(self, data_shape: tuple[int, ...]) -> torch.Tensor:
        nt, nh, nw = self.grid(tuple(data_shape))
        axes = [torch.arange(n, dtype=torch.float32) for n in (nt, self.variables, nh, nw)]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 4)

    def time_index(self, data_shape: tuple[int, ...]) -> torch.Tensor:
        """(N,) time-patch index of every token: selects the tokens of one time step (interpolation mode)."""
        return self.coordinates(data_shape)[:, 0].long()

    def config(self) -> dict[str, int | str]:
        return {
            "kind": "field",
            "variables": self.variables,
            "patch_time": self.patch_time,
            "patch_lat": self.patch_lat,
            "patch_lon": self.patch_lon,
        }
