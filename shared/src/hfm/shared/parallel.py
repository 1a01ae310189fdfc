"""Independent jobs in spawned worker processes, one per CPU this process may use.

Benchmarks run many small seeded trainings (label-efficiency grids, folds) that share nothing; each one is sized for
one thread, so on an n-core node n of them at once finish n times sooner with the same results. Spawned, not forked:
a forked child inherits torch's thread pools and OpenMP state, which can hang it.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any


def available_cpus() -> int:
    """CPUs this process may run on (its affinity, which SLURM and taskset narrow), not the node's count."""
    return len(os.sched_getaffinity(0))


def parallel_map(function: Callable[[Any], Any], jobs: Sequence[Any], workers: int | None = None) -> list[Any]:
    """`function` over `jobs` in order, in up to `workers` spawned processes (default: one per available CPU); in this
    process when one worker or one job would do. `function` and each job must pickle (a module-level function)."""
    workers = min(len(jobs), workers or available_cpus())
    if workers <= 1:
        return [function(job) for job in jobs]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(function, jobs))


@contextmanager
def torch_threads(count: int = 1) -> Iterator[None]:
    """torch at `count` threads inside the block, as it was after: a job sized for one thread gives the same numbers
    whichever process runs it, and a timing is not a measure of the neighbours' load."""
    import torch  # here, so that importing this module does not import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
