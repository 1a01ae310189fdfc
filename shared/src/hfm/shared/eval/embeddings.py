"""Frozen embeddings of a dataset: what the probes take."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from hfm.shared.errors import HFMError
from hfm.shared.models.encoder import TokenEncoder


def as_encoder(model: nn.Module) -> TokenEncoder:
    """The encoder inside a model: itself, or the `.encoder` of a masked autoencoder or fine-tuned model."""
    if isinstance(model, TokenEncoder):
        return model
    inner = getattr(model, "encoder", None)
    if isinstance(inner, TokenEncoder):
        return inner
    # One line naming what the model is (its registered name where it has one) and what was expected (issue 22).
    registered = getattr(model, "hfm_model", {}).get("name") or getattr(model, "hfm_model", {}).get("model")
    what = f"a `{registered}` model ({type(model).__name__})" if registered else f"a {type(model).__name__}"
    raise HFMError(
        f"{what} is not an encoder and holds none under `.encoder`; expected an encoder, a masked autoencoder or a "
        "fine-tuned model built on one"
    )


@torch.no_grad()
def embed(encoder: nn.Module, data: torch.Tensor, batch_size: int = 32) -> np.ndarray:
    """(N, *data_shape) -> (N, width) float32 pooled embeddings, in eval mode, batch by batch."""
    encoder = as_encoder(encoder)
    was_training = encoder.training
    encoder.eval()
    try:
        parts = [encoder.pooled(data[i : i + batch_size]).float() for i in range(0, len(data), batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(parts).numpy()
