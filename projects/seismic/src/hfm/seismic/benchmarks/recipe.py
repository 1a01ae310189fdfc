"""The seismic picking benchmark's picker, built in one place for the benchmark and every dev tool (issue 14).

The dev rule judges a lever against "the present recipe", so the dev tools must train exactly the picker the
benchmark scores: the same crops, steps, batch, learning rate, target width, tokenizer scaling, component
augmentation and sample-rate refiner (`PickBenchConfig`). Before this module `robustness.select_on_dev` built its
pickers without the refiner and the target width; now the benchmark (`picking`), the dev selection
(`robustness.select_on_dev`) and the per-output states (`robustness.state_rows`) all call `finetune_picker`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from hfm.seismic.data.records import Records, training_crops
from hfm.seismic.training import finetune_states, finetune_windows
from hfm.shared.shortcuts import RunSettings

if TYPE_CHECKING:  # picking imports this module; the config is only a type here
    from hfm.seismic.benchmarks.picking import PickBenchConfig


def picker_options(config: PickBenchConfig, init: str | None = None, **overrides: Any) -> dict[str, Any]:
    """The `seismic-pick` task options of the benchmark's picker; `overrides` change one lever (`model_args` are
    merged key by key, so a lever on the trunk keeps the refiner)."""
    options: dict[str, Any] = {"init": init, "sigma_s": config.sigma_s, **config.model_options()}
    if init is not None and config.pretrain_objective == "onset":  # it trained the whole picker: load every tensor
        options["init_scope"] = "picker"
    model_args = {"refiner_depth": config.refiner_depth, **overrides.get("model_args", {})}
    return {**options, **{k: v for k, v in overrides.items() if k != "model_args"}, "model_args": model_args}


def view(records: Records, config: PickBenchConfig) -> Records:
    """What the neural pickers see: the records band-passed where the config asks for a front end, else as they are."""
    return records.band_passed(config.model_band_hz) if config.model_band_hz else records


def finetune_picker(
    records: Records,
    run: str | Path,
    settings: RunSettings,
    config: PickBenchConfig,
    init: str | None = None,
    **overrides: Any,
) -> nn.Module:
    """The benchmark's picker: seeded crops of `records` (seed of `settings`), fine-tuned from `init` (None:
    scratch) with `config`'s recipe and one lever changed by `overrides`."""
    crops = training_crops(records, config.window, config.crops_per_record, settings.seed)
    options = picker_options(config, init, **overrides)
    model, _ = finetune_windows(crops, Path(run), settings, samples=config.window, **options)
    return model


def finetune_picker_states(
    records: Records,
    run: str | Path,
    settings: RunSettings,
    config: PickBenchConfig,
    every: int,
    init: str | None = None,
    **overrides: Any,
) -> dict[int, nn.Module]:
    """`finetune_picker`, keeping the run's state every `every` steps ({step: picker}), for the per-output choice
    (`devrule.choose_output_steps`)."""
    crops = training_crops(records, config.window, config.crops_per_record, settings.seed)
    options = picker_options(config, init, **overrides)
    return finetune_states(crops, Path(run), settings, every, samples=config.window, **options)
