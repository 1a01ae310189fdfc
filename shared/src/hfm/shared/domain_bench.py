"""What a domain hands to cross-domain experiments (`hfm synergy`): its tokenizer, unlabelled samples to pretrain
on, and one small labelled task to probe and fine-tune on.

A domain offers it through `DomainPlugin.hooks["synergy"]`, a function `(work_dir: Path, smoke: bool, seed: int) ->
DomainBench` built from real data that ships with the registries. Because every domain speaks through the same
trunk, a trunk pretrained on one domain's bench can initialise an encoder for any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from hfm.shared.errors import HFMError
from hfm.shared.models.tokenizer import Tokenizer


@dataclass
class DomainBench:
    domain: str
    tokenizer: Tokenizer
    unlabelled: torch.Tensor  # (N, *data_shape), normalised as the domain's encoder expects
    train_x: torch.Tensor
    train_y: np.ndarray
    test_x: torch.Tensor
    test_y: np.ndarray
    task: Literal["classification", "regression"] = "classification"
    description: str = ""  # what the data and the label are, for the report

    def __post_init__(self) -> None:
        shapes = {tuple(t.shape[1:]) for t in (self.unlabelled, self.train_x, self.test_x)}
        if len(shapes) != 1:
            raise HFMError(f"{self.domain} bench: unlabelled, train and test samples differ in shape: {shapes}")
        if len(self.train_x) != len(self.train_y) or len(self.test_x) != len(self.test_y):
            raise HFMError(f"{self.domain} bench: samples and labels differ in length")
        for name in ("unlabelled", "train_x", "test_x"):
            if not torch.isfinite(getattr(self, name)).all():
                raise HFMError(f"{self.domain} bench: {name} holds NaN or infinite values")

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.unlabelled.shape[1:])
