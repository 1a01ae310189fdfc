"""Embedding atlas: embeddings of any domain's dataset as AnnData, explored with scanpy.

`obs` holds the dataset's metadata, `obsm["X_hfm"]` the embeddings. scanpy computes the neighbour graph on the
embeddings, leiden clusters and a UMAP; where a label column exists, cluster purity says how well unsupervised
structure matches the annotation. The `.h5ad` opens in scanpy as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scanpy as sc

from hfm.shared.errors import HFMError

EMBEDDING_KEY = "X_hfm"


@dataclass
class AtlasResult:
    h5ad: Path
    umap_png: Path
    n_obs: int
    n_clusters: int
    purity: float | None  # fraction of objects whose cluster's majority label is their own label
    chance_purity: float | None  # the same for clusters of shuffled labels: what purity means by chance


def cluster_purity(clusters: np.ndarray, labels: np.ndarray) -> float:
    """Share of objects that carry their cluster's most frequent label."""
    table = pd.crosstab(pd.Series(clusters, name="cluster"), pd.Series(labels, name="label"))
    return float(table.max(axis=1).sum() / table.values.sum())


def build_atlas(
    embeddings: np.ndarray,
    obs: pd.DataFrame,
    out_dir: str | Path,
    label_key: str | None = None,
    name: str = "atlas",
    resolution: float = 1.0,
    seed: int = 0,
) -> AtlasResult:
    """Write `<name>.h5ad` and `<name>_umap.png`; returns the clustering summary."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or len(embeddings) != len(obs):
        raise HFMError(f"embeddings {embeddings.shape} do not match {len(obs)} metadata rows")
    if not np.isfinite(embeddings).all():
        raise HFMError("embeddings contain NaN or infinite values; the encoder or its input is broken")
    if label_key is not None and label_key not in obs.columns:
        raise HFMError(f"label column {label_key!r} not in metadata (columns: {', '.join(obs.columns)})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    obs = obs.reset_index(drop=True).copy()
    # Name each observation by its sample key, so a cell of the atlas can be traced back to its file.
    if "key" in obs.columns and obs["key"].astype(str).is_unique:
        obs.index = pd.Index(obs["key"].astype(str))
    else:
        obs.index = obs.index.astype(str)
    for column in obs.columns:  # h5ad stores strings and numbers; anything else becomes its text
        if obs[column].dtype == object:
            obs[column] = obs[column].astype(str)
    adata = ad.AnnData(X=embeddings, obs=obs)
    adata.obsm[EMBEDDING_KEY] = embeddings
    n_neighbors = max(2, min(15, len(obs) - 1))
    sc.pp.neighbors(adata, use_rep=EMBEDDING_KEY, n_neighbors=n_neighbors, random_state=seed)
    sc.tl.leiden(adata, resolution=resolution, random_state=seed, flavor="igraph", n_iterations=2, directed=False)
    sc.tl.umap(adata, random_state=seed)
    purity = chance = None
    if label_key is not None:
        labels = obs[label_key].astype(str).to_numpy()
        clusters = adata.obs["leiden"].to_numpy()
        purity = cluster_purity(clusters, labels)
        chance = cluster_purity(clusters, np.random.default_rng(seed).permutation(labels))
        adata.uns["hfm_purity"] = {"label": label_key, "purity": purity, "chance": chance}
    h5ad = out_dir / f"{name}.h5ad"
    adata.write_h5ad(h5ad)
    umap_png = out_dir / f"{name}_umap.png"
    colors = ["leiden"] + ([label_key] if label_key else [])
    fig, axes = plt.subplots(1, len(colors), figsize=(5 * len(colors), 4.5), squeeze=False)
    for ax, color in zip(axes[0], colors, strict=True):
        sc.pl.umap(adata, color=color, ax=ax, show=False, frameon=False, title=f"{name}: {color}")
    fig.tight_layout()
    fig.savefig(umap_png, dpi=110)
    plt.close(fig)
    return AtlasResult(
        h5ad=h5ad,
        umap_png=umap_png,
        n_obs=len(obs),
        n_clusters=int(adata.obs["leiden"].nunique()),
        purity=purity,
        chance_purity=chance,
    )
