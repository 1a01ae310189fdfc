"""Exponential moving average of the weights, kept in float32 beside the model."""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {name: t.detach().float().clone() for name, t in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for name, tensor in model.state_dict().items():
            shadow = self.shadow[name]
            if tensor.dtype.is_floating_point:
                shadow.lerp_(tensor.detach().float(), 1.0 - self.decay)
            else:  # counters and integer buffers are copied, not averaged
                shadow.copy_(tensor)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        missing = set(self.shadow) ^ set(tensors)
        if missing:
            raise ValueError(f"EMA checkpoint does not match the model: keys {sorted(missing)[:5]}")
        for name, tensor in tensors.items():
            self.shadow[name].copy_(tensor)
