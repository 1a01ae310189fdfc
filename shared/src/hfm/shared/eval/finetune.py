"""Adaptation recipes every domain can use: a head on the encoder's pooled embedding, trained three ways.

| recipe | what trains | reference |
|---|---|---|
| `linear-probe` | the head alone, on the frozen encoder (in eval mode: no dropout) | the standard probe |
| `finetune` | everything; with `layer_decay` < 1 the lr shrinks layer by layer below the head | BEiT, ELECTRA (LLRD) |
| `lp-ft` | the head on the frozen encoder (`probe_epochs`, `probe_lr`), then everything (`lr`) | Kumar et al. 2022 |

Layer-wise learning-rate decay: the encoder's tokenizer embedding is layer 0, trunk block i is layer i + 1, the
trunk's final norm and the head are layer depth + 1; a parameter of layer l trains with
lr x layer_decay ** (depth + 1 - l), so the head gets `lr` and the embedding the smallest rate.

With a validation split (`validation=(x, y)`) every epoch is scored on it (accuracy, or minus the mean squared error
of the standardised regression target) and the weights of the best epoch, over all stages of the recipe, are the
ones tested; `extra` says which epoch won. The test set is only scored once, at the end. The caller's encoder is left
untouched (a copy is trained), so one pretrained encoder serves every label fraction and seed of a curve.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from hfm.shared.errors import HFMError
from hfm.shared.eval.probes import ProbeResult, _check, score
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.train.param_groups import layer_decay_groups

__all__ = ["RECIPES", "AdaptOptions", "EncoderWithHead", "adapt", "finetune", "layer_decay_groups"]

RECIPES = ("linear-probe", "finetune", "lp-ft")


class EncoderWithHead(nn.Module):
    def __init__(self, encoder: TokenEncoder, outputs: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.pooled(x))


@dataclass
class AdaptOptions:
    """How to adapt an encoder to labels; see the module docstring for the recipes."""

    recipe: str = "finetune"
    epochs: int = 20  # of the recipe's last stage (the only one for linear-probe and finetune)
    lr: float = 1e-3  # of the head in the last stage
    batch_size: int = 16
    weight_decay: float = 0.01
    layer_decay: float = 1.0  # 1.0: one lr everywhere
    probe_epochs: int = 10  # lp-ft: epochs of the head on the frozen encoder
    probe_lr: float = 1e-2  # lp-ft: lr of that stage
    seed: int = 0

    def __post_init__(self) -> None:
        if self.recipe not in RECIPES:
            raise HFMError(f"recipe must be one of {', '.join(RECIPES)}, got {self.recipe!r}")
        for name in ("epochs", "batch_size", "probe_epochs"):
            if getattr(self, name) < 1:
                raise HFMError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.layer_decay <= 1:
            raise HFMError(f"layer_decay must lie in (0, 1], got {self.layer_decay}")
        if self.lr <= 0 or self.probe_lr <= 0:
            raise HFMError(f"lr and probe_lr must be > 0, got {self.lr} and {self.probe_lr}")


def _targets(task: str, train_y: np.ndarray) -> tuple[Any, int, nn.Module, Any]:
    """(encode labels -> tensor, outputs, loss, decode outputs -> predictions)."""
    if task == "classification":
        classes = np.unique(train_y)
        index = {c: i for i, c in enumerate(classes.tolist())}

        def encode(labels: np.ndarray) -> torch.Tensor:
            unknown = sorted({c for c in labels.tolist() if c not in index})
            if unknown:
                raise HFMError(f"validation labels {unknown[:3]} are not among the training classes")
            return torch.tensor([index[c] for c in labels.tolist()])

        return encode, len(classes), nn.CrossEntropyLoss(), lambda out: classes[out.argmax(dim=1).numpy()]
    mean, std = float(train_y.mean()), float(train_y.std() + 1e-8)

    def encode_regression(labels: np.ndarray) -> torch.Tensor:
        return torch.tensor((labels - mean) / std, dtype=torch.float32)[:, None]

    return encode_regression, 1, nn.MSELoss(), lambda out: out[:, 0].numpy() * std + mean


@torch.no_grad()
def _outputs(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])


def _validation_score(task: str, out: torch.Tensor, target: torch.Tensor) -> float:
    """Higher is better: accuracy, or minus the MSE on the standardised target."""
    if task == "classification":
        return float((out.argmax(dim=1) == target).float().mean())
    return -float((out - target).square().mean())


def adapt(
    encoder: TokenEncoder,
    train_x: torch.Tensor,
    train_y: np.ndarray,
    test_x: torch.Tensor,
    test_y: np.ndarray,
    task: str = "classification",
    options: AdaptOptions | None = None,
    validation: tuple[torch.Tensor, np.ndarray] | None = None,
    seed: int | None = None,
) -> ProbeResult:
    """Adapt a copy of `encoder` with a recipe, choose the epoch on `validation` when given, score on the test set.

    `seed` overrides `options.seed`, so `functools.partial(adapt, encoder, options=..., validation=...)` is a
    label-efficiency protocol.
    """
    o = options or AdaptOptions()
    if seed is not None:
        o = dataclasses.replace(o, seed=seed)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    _check(np.zeros((len(train_x), 1)), train_y, np.zeros((len(test_x), 1)), test_y, task)  # lengths, classes
    encode, outputs, loss_fn, decode = _targets(task, train_y)
    target = encode(train_y)
    val_target = encode(np.asarray(validation[1])) if validation is not None else None
    generator = torch.Generator().manual_seed(o.seed)
    torch.manual_seed(o.seed)
    model = EncoderWithHead(copy.deepcopy(encoder), outputs)

    stages = {  # (what trains, epochs, lr) in order
        "linear-probe": [("head", o.epochs, o.lr)],
        "finetune": [("all", o.epochs, o.lr)],
        "lp-ft": [("head", o.probe_epochs, o.probe_lr), ("all", o.epochs, o.lr)],
    }[o.recipe]

    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    history: list[float] = []
    epoch = 0
    for trains, epochs, lr in stages:
        head_only = trains == "head"
        model.encoder.requires_grad_(not head_only)
        if head_only:
            groups = [{"params": list(model.head.parameters()), "lr": lr, "weight_decay": o.weight_decay}]
        else:
            groups = layer_decay_groups(model, lr, o.layer_decay, o.weight_decay)
        optimizer = torch.optim.AdamW([{k: v for k, v in g.items() if k != "names"} for g in groups])
        for _ in range(epochs):
            model.train()
            if head_only:  # frozen features: the encoder's dropout stays off
                model.encoder.eval()
            order = torch.randperm(len(train_x), generator=generator)
            for start in range(0, len(order), o.batch_size):
                batch = order[start : start + o.batch_size]
                loss = loss_fn(model(train_x[batch]), target[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            epoch += 1
            if validation is not None:
                value = _validation_score(task, _outputs(model, validation[0], o.batch_size), val_target)
                history.append(value)
                if best is None or value > best[0]:
                    best = (value, epoch, copy.deepcopy(model.state_dict()))
    if best is not None:
        model.load_state_dict(best[2])
    predicted = decode(_outputs(model, test_x, o.batch_size))
    result = score(task, o.recipe, train_y, test_y, predicted)
    result.extra.update({"epochs": float(epoch), "layer_decay": float(o.layer_decay)})
    if best is not None:
        result.extra.update({"best_epoch": float(best[1]), "validation_score": best[0]})
    result.details.update({"options": asdict(o), "validation_history": history})
    return result


def finetune(
    encoder: TokenEncoder,
    train_x: torch.Tensor,
    train_y: np.ndarray,
    test_x: torch.Tensor,
    test_y: np.ndarray,
    task: str = "classification",
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 16,
    freeze_encoder: bool = False,
    weight_decay: float = 0.01,
    seed: int = 0,
    layer_decay: float = 1.0,
    validation: tuple[torch.Tensor, np.ndarray] | None = None,
) -> ProbeResult:
    """Full fine-tuning (or, frozen, the linear probe) as a label-efficiency protocol; see `adapt`."""
    options = AdaptOptions(
        recipe="linear-probe" if freeze_encoder else "finetune",
        epochs=epochs,
        lr=lr,
        batch_size=batch_size,
        weight_decay=weight_decay,
        layer_decay=layer_decay,
        seed=seed,
    )
    result = adapt(encoder, train_x, train_y, test_x, test_y, task, options, validation)
    result.protocol = "finetune-frozen" if freeze_encoder else "finetune"
    return result
