"""AdamW parameter groups by trunk depth: layer-wise learning-rate decay (LLRD) and a frozen-encoder warm start.

Depth of a parameter, for any model whose trunk blocks are named `<prefix>trunk.blocks.<i>.` (every domain model
keeps its encoder under `encoder.`): block i is layer i + 1; the rest of the encoder (tokenizer embedding, positions)
is layer 0; the trunk's final norm and everything outside the encoder (heads, decoders) are the top layer,
depth + 1. With decay d a parameter of layer l trains at lr * d ** (depth + 1 - l): the head at lr, the embedding
at the smallest rate (BEiT, ELECTRA). Weight decay applies to matrices only, as in `trainer.parameter_groups`.
"""

from __future__ import annotations

import re
from typing import Any

from torch import nn

from hfm.shared.errors import HFMError

_BLOCK = re.compile(r"^(.*?)trunk\.blocks\.(\d+)\.")


def layer_ids(model: nn.Module) -> tuple[dict[str, int], int]:
    """({parameter name: layer}, top layer) by the rule in the module docstring."""
    names = [name for name, _ in model.named_parameters()]
    found = [(m.group(1), int(m.group(2))) for name in names if (m := _BLOCK.match(name))]
    if not found:
        raise HFMError(f"{type(model).__name__}: no `trunk.blocks.<i>` parameters to set layer-wise learning rates by")
    prefix = found[0][0]  # "encoder." in domain models, "" for a bare encoder
    top = max(index for _, index in found) + 2
    ids = {}
    for name in names:
        match = _BLOCK.match(name)
        if match:
            ids[name] = int(match.group(2)) + 1
        elif name.startswith(f"{prefix}trunk.norm."):
            ids[name] = top
        elif name.startswith(prefix):  # with prefix "" (a bare encoder) every other parameter is the embedding's
            ids[name] = 0
        else:
            ids[name] = top  # heads, decoders
    return ids, top


def encoder_prefix(model: nn.Module) -> str:
    """The name prefix of the module holding the trunk ("encoder." in domain models)."""
    for name, _ in model.named_parameters():
        match = _BLOCK.match(name)
        if match:
            return match.group(1)
    raise HFMError(f"{type(model).__name__}: no `trunk.blocks.<i>` parameters: no encoder to tell from the head")


def layer_decay_groups(model: nn.Module, lr: float, layer_decay: float, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups, one per (layer, decayed or not), each with its `lr`, `layer`, `encoder` flag and `names`."""
    if not 0 < layer_decay <= 1:
        raise HFMError(f"layer_decay must lie in (0, 1], got {layer_decay}")
    ids, top = layer_ids(model)
    prefix = encoder_prefix(model)
    groups: dict[tuple[int, bool, bool], dict[str, Any]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        layer, decays = ids[name], parameter.ndim >= 2
        in_encoder = name.startswith(prefix)  # a bare encoder (prefix "") is all encoder
        group = groups.setdefault(
            (layer, decays, in_encoder),
            {
                "params": [],
                "names": [],
                "layer": layer,
                "encoder": in_encoder,
                "lr": lr * layer_decay ** (top - layer),
                "weight_decay": weight_decay if decays else 0.0,
            },
        )
        group["params"].append(parameter)
        group["names"].append(name)
    return [groups[key] for key in sorted(groups)]
