import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc

from hfm.shared.errors import HFMError
from hfm.synergy.atlas import EMBEDDING_KEY, build_atlas, cluster_purity


def test_cluster_purity_on_known_tables():
    assert cluster_purity(np.array([0, 0, 1, 1]), np.array(["a", "a", "b", "b"])) == 1.0
    assert cluster_purity(np.array([0, 0, 0, 0]), np.array(["a", "a", "a", "b"])) == 0.75


def test_atlas_finds_separated_groups_and_writes_h5ad_scanpy_reads(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 6, size=(3, 16))
    labels = np.repeat(["diatom", "copepod", "detritus"], 40)
    embeddings = np.concatenate([c + rng.normal(0, 1, size=(40, 16)) for c in centres])
    obs = pd.DataFrame({"taxon": labels, "depth_m": rng.uniform(0, 200, 120)})
    result = build_atlas(embeddings, obs, tmp_path, label_key="taxon", name="toy", seed=0)
    assert result.n_obs == 120 and result.n_clusters >= 3
    assert result.purity > 0.95 and result.chance_purity < 0.6
    adata = sc.read_h5ad(result.h5ad)
    assert adata.obsm[EMBEDDING_KEY].shape == (120, 16)
    assert list(adata.obs["taxon"][:2]) == ["diatom", "diatom"]
    assert "X_umap" in adata.obsm and "leiden" in adata.obs
    assert isinstance(ad.read_h5ad(result.h5ad), ad.AnnData)
    assert result.umap_png.stat().st_size > 10_000


def test_atlas_refuses_nan_embeddings_and_unknown_label(tmp_path):
    obs = pd.DataFrame({"a": range(5)})
    with pytest.raises(HFMError, match="NaN"):
        build_atlas(np.full((5, 3), np.nan), obs, tmp_path)
    with pytest.raises(HFMError, match="label column 'taxon'"):
        build_atlas(np.zeros((5, 3)), obs, tmp_path, label_key="taxon")
