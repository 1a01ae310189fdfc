"""Embeddings of a curated dataset of any domain, for the atlas.

`hfm-arrays` datasets are embedded here with an exported encoder artifact. A dataset in a domain's format is
embedded by the domain's own `embed` hook `(dataset_dir, model_dir) -> (embeddings, metadata DataFrame)` where it
offers one, and otherwise through the format's reader (`iter_samples`, the reader `hfm card validate` uses): the
contract's first array of every sample, normalised per sample, with the metadata row whose key column names it.
Either way the table has a `key` column, which becomes the AnnData `obs_names`.
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
from hfm.shared.models.mae_task import ArrayDataset, normalize_input
from hfm.shared.plugins import find_format, installed_domains


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
            if hook is not None:
                return hook(root, model)
            return embed_through_format(root, card.format, array or card.contract.arrays[0].name, model)
    raise HFMError(
        f"{root}: dataset of domain {card.domain!r} in format {card.format!r}, and that domain is not installed"
    )


def embed_through_format(root: Path, format_name: str, array: str, model: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Embeddings of every sample a format's reader yields, and the metadata rows joined to them by key."""
    import torch

    reader = find_format(format_name)
    keys, arrays = [], []
    for key, sample in reader.iter_samples(root):
        if array not in sample.arrays:
            raise HFMError(f"{root}: sample {key!r} has no array {array!r} (has {', '.join(sample.arrays)})")
        keys.append(key)
        arrays.append(normalize_input(np.asarray(sample.arrays[array])[None], "sample")[0])
    if not keys:
        raise HFMError(f"{root}: the {format_name} reader found no samples")
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise HFMError(f"{root}: samples of {array!r} differ in shape ({sorted(shapes)[:3]}); embed them by domain")
    encoder, _ = load_pretrained(model)
    embeddings = embed(encoder, torch.from_numpy(np.stack(arrays)))
    return embeddings, _joined_metadata(reader.metadata(root), keys)


def _joined_metadata(table: pd.DataFrame | None, keys: list[str]) -> pd.DataFrame:
    """The metadata rows in the order of `keys`, found through the column whose values are exactly the keys."""
    frame = pd.DataFrame({"key": keys})
    if table is None:
        return frame
    wanted = set(keys)
    for column in table.columns:
        values = table[column].astype(str)
        if values.is_unique and wanted <= set(values):
            rows = table.assign(_key=values).set_index("_key").loc[keys].reset_index(drop=True)
            return pd.concat([frame, rows.drop(columns=[c for c in rows.columns if c == "key"])], axis=1)
    return frame
