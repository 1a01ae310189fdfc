"""The run configuration: typed nested dataclasses, read from YAML, overridden from the command line.

    hfm train run.yaml --set optim.lr=1e-3 --set train.steps=50

Every key is checked against the dataclasses; an unknown key or a value of the wrong type is an `HFMError` that names
the file and the dotted key. The `task` section is the exception: besides `name`, its keys are free and go to the
task factory unchanged.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hfm.shared.errors import HFMError

PRECISIONS = ("no", "bf16")


@dataclass
class RunConfig:
    out_dir: str = "runs/default"
    seed: int = 0
    # torch.use_deterministic_algorithms: slower, but a resumed run is bitwise equal to an uninterrupted one.
    deterministic: bool = False


@dataclass
class TaskConfig:
    name: str = "toy-regression"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    steps: int = 100
    # Global batch per optimiser step, summed over processes and accumulation micro-steps, so the same config gives
    # the same optimisation on 1 or N processes.
    batch_size: int = 32
    grad_accum: int = 1
    precision: str = "no"
    clip_norm: float | None = 1.0
    log_every: int = 10
    ckpt_every: int = 100
    keep_last: int = 3
    progress: bool = True


@dataclass
class OptimConfig:
    lr: float = 1e-3
    weight_decay: float = 0.05
    beta1: float = 0.9
    beta2: float = 0.95
    warmup_steps: int = 0
    # After warm-up the rate follows a cosine from `lr` down to `min_lr` at the last step.
    min_lr: float = 0.0
    # Layer-wise lr decay by trunk depth (param_groups.py): the head trains at lr, block i of D at
    # lr * layer_decay ** (D - i), the embedding at lr * layer_decay ** (D + 1). 1.0 = one lr for all.
    layer_decay: float = 1.0
    # Probe-then-fine-tune: for the first N steps only the parameters outside the encoder (the head) learn.
    head_only_steps: int = 0


@dataclass
class EmaConfig:
    enabled: bool = False
    decay: float = 0.999


@dataclass
class DataConfig:
    num_workers: int = 0
    shuffle: bool = True


VALIDATION_MODES = ("min", "max")
HOLDOUT_FROM = ("random", "end")


@dataclass
class ValidationConfig:
    """Model selection on held-back data (see validation.py). Off while `every` is 0."""

    every: int = 0  # validate every K optimiser steps (and at the last step); 0 = never
    metric: str = "loss"  # a key of the task's validation metrics
    mode: str = "min"  # "min" or "max": which direction of `metric` is better
    patience: int | None = None  # stop after this many validations without improvement; null = never stop early
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    # Also validate the initial weights, before the first step: step 0 becomes a candidate (a fine-tuning that only
    # makes a pretrained model worse then exports the model as it was), and a misspelt metric fails at once.
    at_start: bool = False
    # Hold out this fraction of the training set when the task offers no validation split: a seeded random draw, or
    # (holdout_from: end) the last items in the dataset's order, for time-ordered data where a random draw leaks.
    holdout: float = 0.0
    holdout_from: str = "random"
    batch_size: int | None = None  # validation batch; null = train.batch_size / train.grad_accum


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    data: DataConfig = field(default_factory=DataConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    @classmethod
    def short_run(
        cls,
        out_dir: str | Path,
        task: str,
        options: dict[str, Any],
        *,
        steps: int,
        batch_size: int,
        lr: float,
        seed: int = 0,
        progress: bool = True,
        weight_decay: float = 0.05,
        warmup_steps: int | None = None,
        min_lr: float | None = None,
        logs: int = 10,
        validation: ValidationConfig | None = None,
    ) -> Config:
        """A run built in code (domain CLIs, benchmarks, the quickstart): `logs` metric lines over the run, one
        checkpoint at the end, only that one kept; warm-up a tenth of the steps and a cosine to lr/10 unless given."""
        return cls(
            run=RunConfig(out_dir=str(out_dir), seed=seed),
            task=TaskConfig(name=task, options=options),
            train=TrainConfig(
                steps=steps,
                batch_size=batch_size,
                log_every=max(1, steps // logs),
                ckpt_every=steps,
                keep_last=1,
                progress=progress,
            ),
            optim=OptimConfig(
                lr=lr,
                weight_decay=weight_decay,
                warmup_steps=max(1, steps // 10) if warmup_steps is None else warmup_steps,
                min_lr=lr / 10 if min_lr is None else min_lr,
            ),
            validation=validation or ValidationConfig(),
        )


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain nested dict in the YAML layout (task options flattened next to the task name)."""
    out = dataclasses.asdict(config)
    task = out.pop("task")
    out["task"] = {"name": task["name"], **task["options"]}
    return {key: out[key] for key in ("run", "task", "train", "optim", "ema", "data", "validation")}


def config_to_yaml(config: Config) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Defaults, then the YAML file, then each `section.key=value` override, then validation."""
    source = str(path) if path is not None else "defaults"
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise HFMError(f"{path}: config file not found") from None
        except yaml.YAMLError as error:
            raise HFMError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(raw, dict):
            raise HFMError(f"{path}: expected a mapping of sections at the top level")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise HFMError(f"--set {item!r}: expected section.key=value")
        section, _, name = key.strip().partition(".")
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            raise HFMError(f"--set {item!r}: section {section!r} is not a mapping")
        target[name] = _OverrideText(value.strip())
    config = _build(raw, source)
    validate(config, source)
    return config


class _OverrideText(str):
    """A value typed on the command line: parsed by the type of the field it lands in."""


def _build(raw: dict[str, Any], source: str) -> Config:
    sections = {f.name: f for f in dataclasses.fields(Config)}
    values: dict[str, Any] = {}
    for section, body in raw.items():
        if section not in sections:
            raise HFMError(f"{source}: {section}: unknown section; known: {', '.join(sections)}")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise HFMError(f"{source}: {section}: expected a mapping, got {type(body).__name__}")
        if section == "task":
            values[section] = _build_task(body, source)
        else:
            values[section] = _build_section(typing.get_type_hints(Config)[section], section, body, source)
    return Config(**values)


def _build_task(body: dict[str, Any], source: str) -> TaskConfig:
    options = {key: _parse_free(value) for key, value in body.items() if key != "name"}
    name = body.get("name", TaskConfig.name)
    if not isinstance(name, str) or not name:
        raise HFMError(f"{source}: task.name: expected a task name, got {name!r}")
    return TaskConfig(name=str(name), options=options)


def _build_section(cls: type, section: str, body: dict[str, Any], source: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in body.items():
        if key not in hints:
            raise HFMError(f"{source}: {section}.{key}: unknown key; known keys in {section}: {', '.join(known)}")
        kwargs[key] = _coerce(value, hints[key], f"{source}: {section}.{key}")
    return cls(**kwargs)


def _coerce(value: Any, kind: Any, where: str) -> Any:
    """Convert a YAML or command-line value to the field's type, or fail naming the key."""
    options = typing.get_args(kind) if isinstance(kind, types.UnionType) else (kind,)
    if isinstance(value, str) and value.lower() in ("null", "none", "~") and type(None) in options:
        return None
    if value is None:
        if type(None) in options:
            return None
        raise HFMError(f"{where}: must not be empty")
    base = next(option for option in options if option is not type(None))
    text = isinstance(value, _OverrideText)
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "no", "off", "0"):
                return False
            raise ValueError
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            if isinstance(value, str):
                return int(value.replace("_", ""))
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)  # also reads "1e-3", which YAML leaves as a string
        if base is str:
            if not isinstance(value, str) and not text:
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        expected = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}[base]
        raise HFMError(f"{where}: expected {expected}, got {value!r}") from None
    return value


def _parse_free(value: Any) -> Any:
    """A task option typed on the command line becomes the YAML value it spells (number, bool, list...)."""
    if not isinstance(value, _OverrideText):
        return value
    parsed = yaml.safe_load(str(value)) if value else ""
    if isinstance(parsed, str):
        for convert in (int, float):
            try:
                return convert(parsed)
            except ValueError:
                pass
    return parsed


def validate(config: Config, source: str = "config") -> None:
    """Range checks that the types cannot express; each error names the key."""

    def need(ok: bool, key: str, message: str) -> None:
        if not ok:
            raise HFMError(f"{source}: {key}: {message}")

    t, o = config.train, config.optim
    need(t.steps > 0, "train.steps", f"must be > 0, got {t.steps}")
    need(t.batch_size > 0, "train.batch_size", f"must be > 0, got {t.batch_size}")
    need(t.grad_accum > 0, "train.grad_accum", f"must be > 0, got {t.grad_accum}")
    need(
        t.batch_size % t.grad_accum == 0,
        "train.batch_size",
        f"{t.batch_size} is not divisible by train.grad_accum={t.grad_accum}",
    )
    need(t.precision in PRECISIONS, "train.precision", f"must be one of {', '.join(PRECISIONS)}, got {t.precision!r}")
    need(t.clip_norm is None or t.clip_norm > 0, "train.clip_norm", f"must be > 0 or null, got {t.clip_norm}")
    need(t.log_every > 0, "train.log_every", f"must be > 0, got {t.log_every}")
    need(t.ckpt_every > 0, "train.ckpt_every", f"must be > 0, got {t.ckpt_every}")
    need(t.keep_last >= 1, "train.keep_last", f"must be >= 1, got {t.keep_last}")
    need(o.lr > 0, "optim.lr", f"must be > 0, got {o.lr}")
    need(0 <= o.min_lr <= o.lr, "optim.min_lr", f"must lie in [0, optim.lr={o.lr}], got {o.min_lr}")
    need(o.weight_decay >= 0, "optim.weight_decay", f"must be >= 0, got {o.weight_decay}")
    need(0 <= o.beta1 < 1, "optim.beta1", f"must lie in [0, 1), got {o.beta1}")
    need(0 <= o.beta2 < 1, "optim.beta2", f"must lie in [0, 1), got {o.beta2}")
    need(o.warmup_steps >= 0, "optim.warmup_steps", f"must be >= 0, got {o.warmup_steps}")
    need(0 < o.layer_decay <= 1, "optim.layer_decay", f"must lie in (0, 1], got {o.layer_decay}")
    need(
        0 <= o.head_only_steps < t.steps,
        "optim.head_only_steps",
        f"must lie in [0, train.steps={t.steps}), got {o.head_only_steps}",
    )
    need(0 < config.ema.decay < 1, "ema.decay", f"must lie in (0, 1), got {config.ema.decay}")
    need(config.data.num_workers >= 0, "data.num_workers", f"must be >= 0, got {config.data.num_workers}")
    need(bool(config.run.out_dir), "run.out_dir", "must not be empty")
    v = config.validation
    need(v.every >= 0, "validation.every", f"must be >= 0 (0 = no validation), got {v.every}")
    need(bool(v.metric), "validation.metric", "must name a validation metric")
    need(v.mode in VALIDATION_MODES, "validation.mode", f"must be one of min, max, got {v.mode!r}")
    need(v.patience is None or v.patience >= 1, "validation.patience", f"must be >= 1 or null, got {v.patience}")
    need(v.min_delta >= 0, "validation.min_delta", f"must be >= 0, got {v.min_delta}")
    need(0 <= v.holdout < 1, "validation.holdout", f"must lie in [0, 1), got {v.holdout}")
    need(
        v.holdout_from in HOLDOUT_FROM,
        "validation.holdout_from",
        f"must be one of {', '.join(HOLDOUT_FROM)}, got {v.holdout_from!r}",
    )
    need(v.batch_size is None or v.batch_size > 0, "validation.batch_size", f"must be > 0 or null, got {v.batch_size}")
