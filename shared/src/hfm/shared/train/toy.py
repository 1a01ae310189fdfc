"""`toy-regression`: a small real task for tests and benchmarks, the shared Trunk learning a fixed random teacher.

Inputs are seeded Gaussian sequences (tokens x features); the target of a sequence is a fixed nonlinear function of
it (a random two-layer teacher, mean-pooled over tokens). The student embeds the tokens, adds sine-cosine positions,
runs the shared `Trunk`, pools and regresses the target with a mean squared error. The data depend only on
`data_seed`, so every process and every resumed run sees the same samples.

With `validation_samples` > 0 the task offers a validation split: further inputs from the same generator, scored
against the same teacher without noise. `noise` adds Gaussian noise to the training targets only, so that a model
given few samples overfits and its validation loss turns up: what model selection and early stopping are for.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from hfm.shared.errors import HFMError
from hfm.shared.models.trunk import Trunk, TrunkConfig, sincos_embedding


@dataclass
class ToyRegressionConfig:
    """The toy task's data (`samples` sequences of `tokens` x `features`, `outputs` targets, all from `data_seed`)
    and its student's trunk (`width`, `depth`, `heads`, `dropout`); the rest shape runs for tests."""

    samples: int = 256
    tokens: int = 16
    features: int = 8
    outputs: int = 4
    width: int = 32
    depth: int = 2
    heads: int = 2
    dropout: float = 0.0
    data_seed: int = 1234
    # Sleep this long in every loss call: makes a step slow on purpose so tests can interrupt a run mid-way.
    step_sleep_s: float = 0.0
    validation_samples: int = 0  # > 0: a validation split of this many samples
    noise: float = 0.0  # std of Gaussian noise added to the training targets (in units of the target's std)
    validation_sleep_s: float = 0.0  # sleep once per validation: lets tests interrupt a run during one


class ToyRegressor(nn.Module):
    def __init__(self, c: ToyRegressionConfig) -> None:
        super().__init__()
        self.embed = nn.Linear(c.features, c.width)
        positions = torch.arange(c.tokens, dtype=torch.float32)[:, None]
        self.register_buffer("positions", sincos_embedding(positions, c.width), persistent=False)
        self.trunk = Trunk(TrunkConfig(width=c.width, depth=c.depth, heads=c.heads, mlp_ratio=2.0, dropout=c.dropout))
        self.head = nn.Linear(c.width, c.outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.trunk(self.embed(x) + self.positions)
        return self.head(tokens.mean(dim=1))


def make_toy_data(c: ToyRegressionConfig, validation: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The training samples, or (validation=True) the validation samples drawn after them from the same stream."""
    generator = torch.Generator().manual_seed(c.data_seed)
    x = torch.randn(c.samples, c.tokens, c.features, generator=generator)
    w1 = torch.randn(c.features, 16, generator=generator) / c.features**0.5
    w2 = torch.randn(16, c.outputs, generator=generator) / 4.0
    y = torch.tanh(x @ w1).mean(dim=1) @ w2
    scale = y.std()
    if validation:
        x_val = torch.randn(c.validation_samples, c.tokens, c.features, generator=generator)
        return x_val, (torch.tanh(x_val @ w1).mean(dim=1) @ w2) / scale
    y = y / scale
    if c.noise:
        noise_generator = torch.Generator().manual_seed(c.data_seed + 1)
        y = y + c.noise * torch.randn(y.shape, generator=noise_generator)
    return x, y


class ToyRegressionTask:
    def __init__(self, config: ToyRegressionConfig) -> None:
        self.config = config

    def build_model(self) -> nn.Module:
        return ToyRegressor(self.config)

    def train_dataset(self) -> Dataset:
        return TensorDataset(*make_toy_data(self.config))

    def validation_dataset(self) -> Dataset | None:
        if not self.config.validation_samples:
            return None
        return TensorDataset(*make_toy_data(self.config, validation=True))

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        if self.config.step_sleep_s:
            time.sleep(self.config.step_sleep_s)
        x, y = batch
        return F.mse_loss(model(x).float(), y), {}

    def evaluate(self, model: nn.Module, batches: Iterable[Any]) -> dict[str, float]:
        """Validation: mean squared error ("loss", as in training) and mean absolute error over every sample."""
        if self.config.validation_sleep_s:
            time.sleep(self.config.validation_sleep_s)
        squared = absolute = 0.0
        count = 0
        for x, y in batches:
            error = model(x).float() - y
            squared += float(error.square().sum())
            absolute += float(error.abs().sum())
            count += error.numel()
        return {"loss": squared / count, "mae": absolute / count}


def toy_regression(options: dict[str, Any]) -> ToyRegressionTask:
    known = {f.name: f.type for f in fields(ToyRegressionConfig)}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise HFMError(f"task.{unknown[0]}: unknown option of toy-regression; known: {', '.join(known)}")
    try:
        config = ToyRegressionConfig(**options)
        for f in fields(config):
            value = getattr(config, f.name)
            setattr(config, f.name, float(value) if f.type == "float" else int(value))
    except (TypeError, ValueError) as error:
        raise HFMError(f"task: bad toy-regression option ({error})") from None
    return ToyRegressionTask(config)
