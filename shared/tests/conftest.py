from pathlib import Path

import pytest

from hfm.shared.sample_data import shared_data_dir


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir(Path(__file__).parent)
    if path is None:
        pytest.skip("no reference data here: no mirror (HFM_SHARED_DATA) and nothing fetched (`hfm data fetch NAME`)")
    return path
