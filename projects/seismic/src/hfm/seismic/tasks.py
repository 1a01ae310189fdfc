"""Trainer tasks with typed options (`hfm train` and the CLI shortcuts build them by name; declared in the plugin).

Task options (the `task:` section of a run config); an unknown key is refused with the allowed ones:

    seismic-mae:  dataset: PATH | synthetic   (a SeisBench-format folder; generated records only when named)
                  split: train  synthetic: 512  seed: 0  samples: 1000  model: seismic-mae-tiny  model_args: {}
                  normalization: window | component   (the tokenizer's scaling, see hfm.seismic.tokenizer)
                  horizontal_dropout: 0.0  horizontal_noise: 0.0   (shares of training windows whose N and E are
                  zeroed / buried in noise, see hfm.seismic.data.augment)
    seismic-pick: the same, plus  init: PATH (a pretrained MAE or picker: its encoder.* must all load)
                  init_scope: encoder | picker   (picker: every tensor of the model from init, `load_picker`,
                  as after the onset pretraining; refused without init)
                  label_fraction: 1.0   sigma_s: 0.1   model: seismic-picker-tiny

    seismic-onset: dataset, split, synthetic, seed as above; samples: 3000  model: seismic-picker-tiny
                  refiner_depth: 8  horizontal_dropout: 0.3  horizontal_noise: 0.5   (issue 14: the whole picker
                  pretrained on onset-carrying targets, `data.onset_targets`; unsharded datasets only, the targets
                  are standardised over the corpus; fine-tune with init_scope: picker, the same refiner_depth and
                  normalization: component)

A sharded dataset (`hfm seismic curate --shard-size`) is streamed shard by shard through the trainer, the windows
cut inside the stream as the in-memory path cuts them; label_fraction < 1 needs an unsharded one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from hfm.seismic.data.augment import ComponentAugment
from hfm.seismic.data.onset_targets import IndexedWindows, hidden_blocks, standardised_targets
from hfm.seismic.data.stream import SeismicShards
from hfm.seismic.data.windows import (
    LabelledWindows,
    PickingDataset,
    UnlabelledDataset,
    label_subset,
    seisbench_windows,
    synthetic_windows,
)
from hfm.seismic.models import picking_loss
from hfm.seismic.tokenizer import Normalization, WaveformTokenizer
from hfm.shared.artifacts import LoadReport
from hfm.shared.errors import HFMError
from hfm.shared.models.loading import load_encoder
from hfm.shared.models.registry import create_model
from hfm.shared.options import parse_options
from hfm.shared.shard_layout import is_sharded
from hfm.shared.shard_loader import ShardStream

SYNTHETIC = "synthetic"  # the one name that asks for generated records instead of a dataset folder
ONSET_MODEL = "seismic-picker-tiny"  # the onset pretraining trains the picker itself
ENCODER_SOURCES = tuple(f"seismic-{kind}-{size}" for kind in ("mae", "picker") for size in ("tiny", "small", "base"))


@dataclass(frozen=True)
class MAEOptions:
    dataset: str  # a SeisBench-format folder, or "synthetic"
    split: str = "train"
    synthetic: int = 512  # generated records when dataset is "synthetic"
    seed: int = 0
    samples: int = 1000  # window length at 100 Hz
    model: str = "seismic-mae-tiny"
    model_args: dict[str, Any] = field(default_factory=dict)
    normalization: Normalization = "window"
    horizontal_dropout: float = 0.0
    horizontal_noise: float = 0.0


@dataclass(frozen=True)
class PickOptions:
    dataset: str
    split: str = "train"
    synthetic: int = 512
    seed: int = 0
    samples: int = 1000
    model: str = "seismic-picker-tiny"
    model_args: dict[str, Any] = field(default_factory=dict)
    normalization: Normalization = "window"
    horizontal_dropout: float = 0.0
    horizontal_noise: float = 0.0
    init: Path | None = None
    init_scope: Literal["encoder", "picker"] = "encoder"  # what of init is loaded: the encoder, or every tensor
    label_fraction: float = 1.0
    sigma_s: float = 0.1  # width of the Gaussian P/S targets


def streamed(options: MAEOptions | PickOptions | OnsetOptions) -> bool:
    """A sharded dataset is streamed shard by shard (`hfm.seismic.data.stream`) instead of loaded into memory."""
    return options.dataset != SYNTHETIC and is_sharded(options.dataset)


def shard_stream(options: MAEOptions | PickOptions, sigma_s: float | None = None) -> ShardStream:
    patch_len = int(options.model_args.get("patch_len", 25))
    augment = component_augment(options)
    reader = SeismicShards(options.split, options.samples, augment, patch_len, options.normalization, sigma_s)
    return ShardStream(options.dataset, reader)


def load_windows(options: MAEOptions | PickOptions | OnsetOptions, where: str) -> LabelledWindows:
    if options.dataset == SYNTHETIC:
        return synthetic_windows(options.synthetic, options.seed, options.samples)
    if not Path(options.dataset).is_dir():
        raise HFMError(f"{where}: option 'dataset' {options.dataset}: neither {SYNTHETIC!r} nor a SeisBench folder")
    return seisbench_windows(options.dataset, options.split, samples=options.samples)


def build_encoder_model(options: MAEOptions | PickOptions, where: str) -> nn.Module:
    """The registered model with its arguments; the tokenizer's normalisation is a typed task option, so it is
    refused in model_args rather than silently overridden."""
    if "normalization" in options.model_args:
        raise HFMError(f"{where}: give 'normalization' as a task option, not in model_args")
    return create_model(options.model, **options.model_args, normalization=options.normalization)


def component_augment(options: MAEOptions | PickOptions) -> ComponentAugment:
    return ComponentAugment(options.horizontal_dropout, options.horizontal_noise, options.seed)


class SeismicMAETask:
    """Masked autoencoding on unlabelled windows; `windows` given in memory replace `dataset` (benchmarks)."""

    def __init__(self, options: MAEOptions, windows: LabelledWindows | None = None) -> None:
        self.options = options
        if windows is None and not streamed(options):
            windows = load_windows(options, "task seismic-mae")
        self._windows = windows  # None: streamed from the shards

    def build_model(self) -> nn.Module:
        return build_encoder_model(self.options, "task seismic-mae")

    def train_dataset(self) -> UnlabelledDataset | ShardStream:
        if self._windows is None:
            return shard_stream(self.options)
        patch_len = int(self.options.model_args.get("patch_len", 25))
        return UnlabelledDataset(self._windows, patch_len, self.options.normalization, component_augment(self.options))

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return model(batch).loss, {}


class SeismicPickTask:
    """The P/S picker and detector on labelled windows, from a pretrained encoder when `init` is given."""

    def __init__(self, options: PickOptions, windows: LabelledWindows | None = None) -> None:
        if options.init_scope == "picker" and options.init is None:  # else it would train from scratch, silently
            raise HFMError(
                "task seismic-pick: init_scope picker loads every tensor of init, and init is not given "
                "(the folder or file of an onset pretraining, e.g. hfm seismic pretrain-onset OUT/model)"
            )
        self.options = options
        if windows is None and streamed(options):
            if options.label_fraction != 1:  # a seeded subset needs every window's label at once
                raise HFMError(
                    f"task seismic-pick: label_fraction {options.label_fraction} needs an unsharded dataset; "
                    f"{options.dataset} is sharded (streamed, every window of the split is used)"
                )
            self._windows = None  # streamed from the shards
            return
        windows = windows if windows is not None else load_windows(options, "task seismic-pick")
        self._windows = label_subset(windows, options.label_fraction, options.seed)

    def build_model(self) -> nn.Module:
        model = build_encoder_model(self.options, "task seismic-pick")
        if self.options.init is not None and self.options.init_scope == "picker":
            report = load_picker(model, self.options.init)
            if report.unused:  # e.g. a depth-8 refiner loaded into a picker built without one: refuse, do not drop it
                raise HFMError(
                    f"task seismic-pick: init {self.options.init} (init_scope picker) holds {len(report.unused)} "
                    f"tensors this picker lacks ({', '.join(report.unused[:3])}, ...): build it as it was pretrained "
                    "(model_args refiner_depth, model size)"
                )
        elif self.options.init is not None:
            load_encoder(model, self.options.init, expected=ENCODER_SOURCES)
        return model

    def train_dataset(self) -> PickingDataset | ShardStream:
        if self._windows is None:
            return shard_stream(self.options, self.options.sigma_s)
        return PickingDataset(self._windows, self.options.sigma_s, component_augment(self.options))

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        x, phases, detection = batch
        return picking_loss(model(x), phases, detection)


@dataclass(frozen=True)
class OnsetOptions:
    """The onset pretraining of the whole picker (issue 14): its data as the MAE's, the picker, the augmentation. The
    input is always scaled per component (the picker is built with `normalization: component`, so fine-tune it with
    the same) and the targets always come from the clean window."""

    dataset: str = "in memory"  # a SeisBench-format folder, "synthetic", or windows given to the task
    split: str = "train"
    synthetic: int = 512
    seed: int = 0
    samples: int = 3000  # 30 s at 100 Hz, as the benchmark's corpus windows
    model: str = ONSET_MODEL
    refiner_depth: int = 8
    horizontal_dropout: float = 0.3
    horizontal_noise: float = 0.5


class OnsetPretrainTask:
    """Trainer task: augmented, scaled, block-hidden window -> the four standardised targets of the clean one.
    `windows` (N, 3, T) given in memory replace `dataset` (the benchmark's corpus). The targets are standardised over
    every window at once, so a sharded dataset (streamed shard by shard) is refused."""

    def __init__(self, options: OnsetOptions, windows: np.ndarray | None = None) -> None:
        if windows is None:
            if streamed(options):
                raise HFMError(
                    f"task seismic-onset: dataset {options.dataset} is sharded; the onset targets are standardised "
                    "over the whole corpus, so it needs an unsharded one (hfm seismic curate without --shard-size)"
                )
            windows = load_windows(options, "task seismic-onset").waveforms
        self.windows = windows
        targets, self.target_mean, self.target_sd = standardised_targets(windows)
        self.targets = torch.from_numpy(targets)
        self.options = options
        self.augment = ComponentAugment(options.horizontal_dropout, options.horizontal_noise, options.seed)

    def build_model(self) -> nn.Module:
        return create_model(self.options.model, refiner_depth=self.options.refiner_depth, normalization="component")

    def train_dataset(self) -> IndexedWindows:
        return IndexedWindows(self.windows)

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        x, index = batch
        b, _, t = x.shape
        # the augmentation is seeded per window index, as the fine-tuning's
        augmented = [self.augment(w.numpy(), int(i)) for w, i in zip(x, index, strict=True)]
        x = torch.stack([torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in augmented])
        x = WaveformTokenizer.normalize(x, "component")
        hidden = hidden_blocks(b, t)
        squared = (model(x.masked_fill(hidden[:, None], 0.0)) - self.targets[index]) ** 2
        return squared.mean(), {}


def load_picker(model: nn.Module, path: str | Path) -> LoadReport:
    """Every tensor of `model` from the picker at `path` (a folder or a .safetensors file), by name and shape: the
    shared encoder loader over the whole model. A key the file cannot fill raises `HFMError`; tensors of the file the
    model lacks (a refiner deeper than the model's) are left unused and named in the report."""
    return load_encoder(model, path, prefix="")


def seismic_mae(options: dict[str, Any]) -> SeismicMAETask:
    return SeismicMAETask(parse_options(MAEOptions, options, "task seismic-mae"))


def seismic_pick(options: dict[str, Any]) -> SeismicPickTask:
    return SeismicPickTask(parse_options(PickOptions, options, "task seismic-pick"))


def seismic_onset(options: dict[str, Any]) -> OnsetPretrainTask:
    return OnsetPretrainTask(parse_options(OnsetOptions, options, "task seismic-onset"))
