from pathlib import Path

import numpy as np
import pytest

from hfm.shared.arraystore import ArrayStoreWriter
from hfm.shared.contracts import ArraySpec, Sample, SampleContract
from hfm.shared.curate_driver import CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem
from hfm.shared.sample_data import shared_data_dir
from hfm.shared.shard_curation import Sharding


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir(Path(__file__).parent)
    if path is None:
        pytest.skip("no reference data here: no mirror (HFM_SHARED_DATA) and nothing fetched (`hfm data fetch NAME`)")
    return path


@pytest.fixture(scope="session")
def sharded_arrays(tmp_path_factory) -> Path:
    """A sharded hfm-arrays dataset: 62 samples `s000`..`s061` of x (3 float32) in 7 shards of 8 and one of 6, so
    that ranks' and workers' shares differ."""
    root = tmp_path_factory.mktemp("sharded-arrays") / "data"
    contract = SampleContract(name="t", arrays=[ArraySpec(name="x", dims=["t"], dtype="float32", shape=[3])])
    values = np.random.default_rng(0).normal(size=(62, 3)).astype(np.float32)
    items = [CurationItem(f"s{i:03d}", [], lambda i=i: Sample(arrays={"x": values[i]})) for i in range(62)]
    curate_dataset(
        items,
        root,
        domain="test",
        format="hfm-arrays",
        contract=contract,
        writer=ArrayStoreWriter(),
        describe=DatasetDescription("streamed", "CC0-1.0", ["HFM"]),
        tool=CurationTool("test", "hfm-shared"),
        show_progress=False,
        sharding=Sharding(shard_size=8),
    )
    return root
