"""Fine-tuning: a linear head on the encoder's pooled embedding, trained with the encoder (or with it frozen).

The caller's encoder is left untouched (a copy is trained), so one pretrained encoder serves every label fraction
and seed of a label-efficiency curve.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from hfm.shared.eval.probes import ProbeResult, _check, score
from hfm.shared.models.encoder import TokenEncoder


class EncoderWithHead(nn.Module):
    def __init__(self, encoder: TokenEncoder, outputs: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.width, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder.pooled(x))


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
) -> ProbeResult:
    """AdamW on cross-entropy (classification) or MSE on standardised targets (regression); scored like the probes."""
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    _check(np.zeros((len(train_x), 1)), train_y, np.zeros((len(test_x), 1)), test_y, task)  # lengths, classes
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if task == "classification":
        classes = np.unique(train_y)
        index = {c: i for i, c in enumerate(classes.tolist())}
        target = torch.tensor([index[c] for c in train_y.tolist()])
        outputs, loss_fn = len(classes), nn.CrossEntropyLoss()
    else:
        mean, std = float(train_y.mean()), float(train_y.std() + 1e-8)
        target = torch.tensor((train_y - mean) / std, dtype=torch.float32)[:, None]
        outputs, loss_fn = 1, nn.MSELoss()
    model = EncoderWithHead(copy.deepcopy(encoder), outputs)
    if freeze_encoder:
        model.encoder.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=weight_decay)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            loss = loss_fn(model(train_x[batch]), target[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(test_x[i : i + batch_size]) for i in range(0, len(test_x), batch_size)])
    if task == "classification":
        predicted = classes[out.argmax(dim=1).numpy()]
    else:
        predicted = out[:, 0].numpy() * std + mean
    result = score(task, "finetune-frozen" if freeze_encoder else "finetune", train_y, test_y, predicted)
    result.extra["epochs"] = float(epochs)
    return result
