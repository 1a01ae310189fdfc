"""The workers of a sharded curation: forked once per run, each taking the next unclaimed shard until none is left.

Items are closures that read files, so they cannot be pickled to a pool; a worker must be forked after they exist.
Forking one process per shard (as the first version did) paid the fork, the copy-on-write faults of a large
driver and the process teardown for every shard, about a quarter more CPU per item at 2 workers. Here the driver
forks `workers` processes before it touches the items, and each worker lists them itself: a sequence is sliced
at the shard's range, any other iterable is iterated in the worker from where it stood at the fork (so a generator
must not read from a file it opened before: the offset would be shared). Shard indices come from one counter in
shared memory, in increasing order, so a worker that is free takes the next shard at once and never goes back.
Only shard indices, item counts and error messages cross the process boundary, and the driver does no work per
item: it waits, advances the progress bar and reports a worker's error naming the shard.
"""

from __future__ import annotations

import math
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice
from multiprocessing.connection import Connection, wait
from typing import Generic, TypeVar

from hfm.shared.errors import HFMError
from hfm.shared.shard_layout import shard_name

T = TypeVar("T")
ShardTask = Callable[[int, list[T]], None]


class ShardClaims:
    """Shard indices handed out once each, in increasing order: every index, or only a part's (`index % count`)."""

    def __init__(self, shared: bool, part_index: int = 0, part_count: int = 1) -> None:
        # a counter in shared memory when forked workers take from it, a plain one in a single process
        self._counter = multiprocessing.get_context("fork").Value("q", 0) if shared else None
        self._taken = 0
        self._part_index, self._part_count = part_index, part_count

    def take(self) -> int:
        if self._counter is None:
            turn, self._taken = self._taken, self._taken + 1
        else:
            with self._counter.get_lock():
                turn = self._counter.value
                self._counter.value = turn + 1
        return self._part_index + turn * self._part_count


class ShardSource(Generic[T]):
    """The items cut into shards of `shard_size` by position; shards are asked for in increasing index order."""

    def __init__(self, items: Iterable[T], shard_size: int) -> None:
        self._items = items
        self._size = shard_size
        self._iterator: Iterator[T] | None = None
        self._position = 0  # items consumed from the iterator so far
        self._exhausted = False

    def shards(self) -> int | None:
        """How many shards the items make: known for a sequence at once, for an iterator once it has ended."""
        if isinstance(self._items, Sequence):
            return math.ceil(len(self._items) / self._size)
        return math.ceil(self._position / self._size) if self._exhausted else None

    def shard(self, index: int) -> list[T]:
        """The items of shard `index` (empty beyond the last shard)."""
        start = index * self._size
        if isinstance(self._items, Sequence):
            return list(self._items[start : start + self._size])
        if start < self._position:
            raise HFMError(f"{shard_name(index)}: asked for after a later shard (items are listed once, in order)")
        if self._iterator is None:
            self._iterator = iter(self._items)
        self._position += sum(1 for _ in islice(self._iterator, start - self._position))  # skip others' shards
        batch = list(islice(self._iterator, self._size)) if self._position == start else []
        self._position += len(batch)
        self._exhausted = self._exhausted or len(batch) < self._size
        return batch

    def claimed(self, claims: ShardClaims) -> Iterator[tuple[int, list[T]]]:
        """(index, items) of every shard `claims` hands out, until one lies beyond the last shard."""
        while batch := self.shard(index := claims.take()):
            yield index, batch


def run_shards(
    items: Iterable[T],
    shard_size: int,
    task: ShardTask[T],
    *,
    workers: int = 1,
    part: tuple[int, int] = (0, 1),
    done: Callable[[int], None] = lambda n: None,
) -> int:
    """Call `task(index, items)` for every shard (of `part` = (index, count): those with index % count == index),
    here when `workers` is 1, else in that many forked workers; `done(n)` after each shard's n items, here.
    Returns how many shards the items make."""
    source: ShardSource[T] = ShardSource(items, shard_size)
    if workers == 1:
        for index, batch in source.claimed(ShardClaims(shared=False, part_index=part[0], part_count=part[1])):
            task(index, batch)
            done(len(batch))
        shards = source.shards()
        assert shards is not None, "the items ended without the source seeing their end"
        return shards
    return _run_forked(source, task, ShardClaims(shared=True, part_index=part[0], part_count=part[1]), workers, done)


def _work(source: ShardSource[T], task: ShardTask[T], claims: ShardClaims, report: Connection, driver: int) -> None:
    """One forked worker: shards until none is left, each reported; an error is reported with its shard."""
    index = None
    try:
        for index, batch in source.claimed(claims):
            if os.getppid() != driver:  # the driver was killed: stop between shards, as a killed run should
                return
            task(index, batch)
            report.send(("shard", index, len(batch)))
        report.send(("end", source.shards()))
    except Exception as error:
        report.send(("error", index, f"{type(error).__name__}: {error}"))
        raise  # its traceback goes to stderr


def _run_forked(
    source: ShardSource[T], task: ShardTask[T], claims: ShardClaims, workers: int, done: Callable[[int], None]
) -> int:
    context = multiprocessing.get_context("fork")
    running: dict[Connection, multiprocessing.process.BaseProcess] = {}
    shards: int | None = None
    try:
        for _ in range(workers):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(target=_work, args=(source, task, claims, writer, os.getpid()))
            process.start()
            writer.close()  # the worker holds the only writer: its end is the reader's EOF
            running[reader] = process
        while running:
            for reader in wait(list(running)):
                try:
                    message = reader.recv()
                except EOFError:
                    process = running.pop(reader)  # type: ignore[arg-type]
                    process.join()
                    reader.close()  # type: ignore[union-attr]
                    if process.exitcode != 0:
                        raise HFMError(f"a curation worker ended with exit code {process.exitcode}") from None
                    continue
                if message[0] == "shard":
                    done(message[2])
                elif message[0] == "end":
                    shards = message[1]
                else:
                    where = "listing the items" if message[1] is None else shard_name(message[1])
                    raise HFMError(f"curation of {where} failed: {message[2]} (its traceback is above)")
    finally:
        for process in running.values():  # an error in one worker: the others stop too, their shards unfinished
            process.terminate()
            process.join()
    if shards is None:
        raise HFMError("no curation worker reached the end of the items")
    return shards
