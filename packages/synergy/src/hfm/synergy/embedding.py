"""Embeddings of a curated dataset of any domain, for the atlas.

`hfm-arrays` datasets are embedded here with an exported encoder artifact; a domain format is embedded by the
domain's own `embed` hook `(dataset_dir, model_dir) -> (embeddings, metadata DataFrame)`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hfm.shared.arraystore import FORMAT_NAME
from hfm.shared.artifacts import load_pretrained
from hfm.shared.cards import load_card
from hfm.shared.errors import HFMError
from hfm.shared.eval.embeddings import embed
from hfm.shared.models.mae_task import ArrayDataset
from hfm.shared.plugins import installed_domains


def embed_dataset(
    dataset: Path, model: Path, array: str | None = None, normalize: str = "sample"
) -> tuple[np.ndarray, pd.DataFrame]:
    card, root = load_card(dataset)
    if card.format == FORMAT_NAME:
        name = array or card.contract.arrays[0].name
        data = ArrayDataset(root, name, normalize=normalize)
        encoder, _ = load_pretrained(model)
        return embed(encoder, data.stack()), data.table
    for domain in installed_domains():
        if domain.name == card.domain:
            hook = domain.load().hooks.get("embed")
            if hook is None:
                raise HFMError(f"domain {card.domain!r} offers no embedding of its {card.format} datasets yet")
            return hook(root, model)
    raise HFMError(
        f"{root}: dataset of domain {card.domain!r} in format {card.format!r}, and that domain is not installed"
    )
