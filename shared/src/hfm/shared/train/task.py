"""What the trainer trains: a task builds the model and the data and computes the loss of a batch.

The trainer knows nothing about domains. A task is found by name in the registry: built-in tasks of the core, and
tasks that installed packages declare in the `hfm.tasks` entry-point group (name = "module:factory"). A factory takes
the task section of the run config (a dict) and returns a `TrainTask`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn
from torch.utils.data import Dataset

from hfm.shared.errors import HFMError

TASK_GROUP = "hfm.tasks"


@runtime_checkable
class TrainTask(Protocol):
    def build_model(self) -> nn.Module: ...

    def train_dataset(self) -> Dataset: ...

    def loss(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        """The scalar loss to minimise and metrics to log for one batch."""
        ...


# Optional methods a task may add (looked up with hasattr, so existing tasks need none of them):
#   collate(items) -> batch                                   the DataLoader's collate_fn
#   validation_dataset() -> Dataset | None                    held-back data for model selection (validation.py)
#   evaluate(model, batches: Iterable) -> dict[str, float]    validation metrics that are not means of loss()


TaskFactory = Callable[[dict[str, Any]], TrainTask]

# Core tasks, imported only when named: "name" -> "module:factory".
BUILTIN_TASKS: dict[str, str] = {
    "mae": "hfm.shared.models.mae_task:build_mae_task",
    "toy-regression": "hfm.shared.train.toy:toy_regression",
}
_registered: dict[str, TaskFactory] = {}


def register_task(name: str) -> Callable[[TaskFactory], TaskFactory]:
    def decorate(factory: TaskFactory) -> TaskFactory:
        _registered[name] = factory
        return factory

    return decorate


def _load(target: str) -> TaskFactory:
    module, _, attr = target.partition(":")
    return getattr(import_module(module), attr)


def available_tasks() -> list[str]:
    """Every task name: registered in code, built in, declared by entry points or by a domain's plugin object."""
    from hfm.shared.plugins import domain_targets

    names = set(_registered) | set(BUILTIN_TASKS) | {ep.name for ep in entry_points(group=TASK_GROUP)}
    return sorted(names | set(domain_targets("task_factories")))


def build_task(name: str, config: dict[str, Any]) -> TrainTask:
    if name in _registered:
        factory = _registered[name]
    elif name in BUILTIN_TASKS:
        factory = _load(BUILTIN_TASKS[name])
    else:
        found = [ep for ep in entry_points(group=TASK_GROUP) if ep.name == name]
        if found:
            factory = found[0].load()
        else:
            from hfm.shared.plugins import domain_targets

            target = domain_targets("task_factories").get(name)
            if target is None:
                raise HFMError(f"unknown task {name!r}; available: {', '.join(available_tasks()) or 'none'}")
            factory = _load(target[0])
    return factory(config)
