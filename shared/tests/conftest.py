from pathlib import Path

import pytest

from hfm.shared.sample_data import shared_data_dir


@pytest.fixture
def shared_data() -> Path:
    path = shared_data_dir(Path(__file__).parent)
    if path is None:
        pytest.skip("../shared/data (real reference data) is not beside this checkout; set HFM_SHARED_DATA")
    return path
