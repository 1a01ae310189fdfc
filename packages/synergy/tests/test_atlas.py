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


def test_atlas_names_observations_by_sample_key(tmp_path):
    rng = np.random.default_rng(1)
    obs = pd.DataFrame({"key": [f"trace-{i:02d}" for i in range(30)], "taxon": np.repeat(["a", "b", "c"], 10)})
    result = build_atlas(rng.normal(size=(30, 8)), obs, tmp_path, name="keys", seed=0)
    assert list(ad.read_h5ad(result.h5ad).obs_names[:3]) == ["trace-00", "trace-01", "trace-02"]


def test_a_format_without_embed_hook_is_embedded_through_its_reader(tmp_path):
    from hfm.shared.arraystore import FORMAT_NAME, ArrayStoreWriter
    from hfm.shared.artifacts import ModelCard, export_model
    from hfm.shared.contracts import Sample
    from hfm.shared.models.registry import create_model
    from hfm.synergy.embedding import embed_through_format

    writer = ArrayStoreWriter()
    writer.open(tmp_path / "data")
    rng = np.random.default_rng(0)
    for i in (3, 1, 2):
        writer.write(f"s{i}", Sample(arrays={"x": rng.normal(size=(1, 64)).astype(np.float32)}, attrs={"site": i}))
    writer.close()
    encoder = create_model("series-encoder-tiny", channels=1, patch_len=16)
    model = export_model(encoder, tmp_path / "model", {}, ModelCard(name="e", intended_use="t", limitations="t"))
    embeddings, table = embed_through_format(tmp_path / "data", FORMAT_NAME, "x", model)
    assert embeddings.shape == (3, encoder.width)
    assert list(table["key"]) == ["s1", "s2", "s3"] and list(table["site"]) == [1, 2, 3]
