"""Rich progress bars for long work; silent where disabled (tests, non-main processes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True)


@contextmanager
def progress_bar(description: str, total: int | None = None, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yields `advance(n=1)`; shows a bar with count, elapsed and remaining time when enabled."""
    if not enabled:
        yield lambda n=1: None
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    # Two refreshes a second: rich renders in a thread that needs the GIL, and at its default of 10 a second the
    # bar alone slowed a small model's training loop by about 4%.
    with Progress(*columns, console=console, transient=False, refresh_per_second=2) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
