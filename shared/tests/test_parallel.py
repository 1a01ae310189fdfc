"""hfm.shared.parallel: jobs in spawned processes come back in order, and torch_threads restores the thread count."""

import pytest
import torch

from hfm.shared.parallel import available_cpus, parallel_map, torch_threads


def test_parallel_map_keeps_the_jobs_order_in_one_process_or_two():
    # a function the spawned workers can import (this test module is not importable by name in an installed venv)
    jobs = [-3, 1, -4, 1, -5]
    assert parallel_map(abs, jobs, workers=1) == parallel_map(abs, jobs, workers=2) == [3, 1, 4, 1, 5]
    assert available_cpus() >= 1


def test_torch_threads_sets_the_count_inside_and_restores_it_after_an_error():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"), torch_threads(1):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
