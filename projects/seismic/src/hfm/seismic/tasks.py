"""Train tasks for the shared trainer (`hfm.tasks` entry points): "seismic-mae" and "seismic-pick".

Task options (the `task:` section of a run config):

    seismic-mae:  data: PATH | "synthetic"   (a SeisBench-format folder, or generated records)
                  split: train  synthetic: 512  seed: 0  samples: 1000  model: seismic-mae-tiny  model_args: {}
    seismic-pick: the same, plus  init: PATH (model.safetensors of a pretrained MAE or picker; encoder.* loads)
                  label_fraction: 1.0   sigma_s: 0.1   model: seismic-picker-tiny
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from hfm.seismic.data.windows import (
    LabelledWindows,
    PickingDataset,
    UnlabelledDataset,
    seisbench_windows,
    synthetic_windows,
)
from hfm.seismic.models import picking_loss
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model
from hfm.shared.train.task import register_task


def load_windows(options: dict[str, Any]) -> LabelledWindows:
    data = options.get("data", "synthetic")
    samples = int(options.get("samples", 1000))
    if isinstance(data, LabelledWindows):
        return data
    if data == "synthetic":
        return synthetic_windows(int(options.get("synthetic", 512)), int(options.get("seed", 0)), samples)
    return seisbench_windows(data, options.get("split", "train"), samples=samples)


def label_subset(windows: LabelledWindows, fraction: float, seed: int) -> LabelledWindows:
    """A seeded fraction of the windows (at least one event and one noise window where both exist)."""
    if not 0 < fraction <= 1:
        raise HFMError(f"task.label_fraction must lie in (0, 1], got {fraction}")
    if fraction == 1:
        return windows
    rng = np.random.default_rng(seed)
    events, noise = np.flatnonzero(windows.is_event), np.flatnonzero(~windows.is_event)
    count = max(2, int(np.ceil(fraction * len(windows))))
    first = [rng.choice(g) for g in (events, noise) if len(g)]
    rest = rng.permutation(np.setdiff1d(np.arange(len(windows)), first))[: max(count - len(first), 0)]
    return windows.subset(np.sort(np.concatenate([first, rest]).astype(int)))


def load_encoder_weights(model: nn.Module, path: str | Path) -> int:
    """Copy `encoder.*` weights of a safetensors file into `model`; returns how many tensors matched."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise HFMError(f"{path}: no pretrained weights (model.safetensors) here")
    state = {k: v for k, v in load_file(str(path)).items() if k.startswith("encoder.")}
    own = model.state_dict()
    matched = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise HFMError(f"{path}: no encoder.* tensor fits this model (different width or patch length?)")
    model.load_state_dict(matched, strict=False)
    return len(matched)


class SeismicMAETask:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.model_name = options.get("model", "seismic-mae-tiny")
        self.model_args = dict(options.get("model_args", {}))
        self._windows = load_windows(options)

    def build_model(self) -> nn.Module:
        return create_model(self.model_name, **self.model_args)

    def train_dataset(self) -> UnlabelledDataset:
        return UnlabelledDataset(self._windows, int(self.model_args.get("patch_len", 25)))

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        out = model(batch)
        return out.loss, {}


class SeismicPickTask:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.model_name = options.get("model", "seismic-picker-tiny")
        self.model_args = dict(options.get("model_args", {}))
        windows = load_windows(options)
        self._windows = label_subset(windows, float(options.get("label_fraction", 1.0)), int(options.get("seed", 0)))

    def build_model(self) -> nn.Module:
        model = create_model(self.model_name, **self.model_args)
        if self.options.get("init"):
            load_encoder_weights(model, self.options["init"])
        return model

    def train_dataset(self) -> PickingDataset:
        return PickingDataset(self._windows, float(self.options.get("sigma_s", 0.1)))

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        x, phases, detection = batch
        return picking_loss(model(x), phases, detection)


@register_task("seismic-mae")
def seismic_mae(options: dict[str, Any]) -> SeismicMAETask:
    return SeismicMAETask(options)


@register_task("seismic-pick")
def seismic_pick(options: dict[str, Any]) -> SeismicPickTask:
    return SeismicPickTask(options)
