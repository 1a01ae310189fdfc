"""The contract between a domain and the shared trunk.

A domain's tokenizer cuts its data into patches (waveform segments, 3D voxel blocks, spatio-temporal tiles, image
squares) and gives each patch a coordinate; the trunk never needs to know what the data is. Masked autoencoding,
the probes and the transfer experiments work on any tokenizer.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class Tokenizer(Protocol):
    """Turns a batch of domain data into patch vectors and back.

    - `patch_dim`: length P of one flattened patch.
    - `coord_dims`: how many coordinates locate a patch (1 for time, 2 for images, 3 for volumes, ...).
    - `patchify(x)`: (B, *data_shape) -> (B, N, P).
    - `unpatchify(patches, data_shape)`: (B, N, P) -> (B, *data_shape), the inverse of `patchify`.
    - `coordinates(data_shape)`: (N, coord_dims) float tensor, the position of each patch in patch units.
    """

    patch_dim: int
    coord_dims: int

    def patchify(self, x: torch.Tensor) -> torch.Tensor: ...

    def unpatchify(self, patches: torch.Tensor, data_shape: tuple[int, ...]) -> torch.Tensor: ...

    def coordinates(self, data_shape: tuple[int, ...]) -> torch.Tensor: ...
