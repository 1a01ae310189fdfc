"""Registered models: the MAE that pretrains the encoder, and the classifier that fine-tunes it."""

from __future__ import annotations

import torch
from torch import nn

from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.mae import MAEConfig, MaskedAutoencoder
from hfm.shared.models.registry import PretrainedConfig, register_model, trunk_config
from hfm.template.tokenizer import signal_tokenizer


class SignalClassifier(nn.Module):
    """Encoder + mean-pooled linear head. Weight names `encoder.*` match the MAE's, so `--init` loads them."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.encoder = TokenEncoder(signal_tokenizer(), trunk_config("tiny"))
        self.head = nn.Linear(self.encoder.width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x).mean(dim=1))


@register_model("template-mae-tiny", PretrainedConfig("template-mae-tiny", "mae", "tiny", "signal MAE", "(1, T)"))
def template_mae(mask_ratio: float = 0.75) -> nn.Module:
    return MaskedAutoencoder(TokenEncoder(signal_tokenizer(), trunk_config("tiny")), MAEConfig(mask_ratio=mask_ratio))


@register_model(
    "template-classifier-tiny",
    PretrainedConfig("template-classifier-tiny", "classifier", "tiny", "signal classifier", "(1, T)", {"classes": 2}),
)
def template_classifier(classes: int = 2) -> nn.Module:
    return SignalClassifier(classes)
