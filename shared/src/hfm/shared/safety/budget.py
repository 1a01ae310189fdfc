"""The resource budget: how much one input may decode to, take in time and in memory, before it is quarantined.

Limits come from the environment so an operator raises them without code (docs/data.md, "Limits"):

| variable | default | what |
|---|---|---|
| `HFM_MAX_DECODED_BYTES` | 512 MiB | decoded size of one input (all its arrays), checked from headers before decoding |
| `HFM_MAX_IMAGE_PIXELS` | 40 000 000 | pixels of one 2-D image (Pillow's decompression-bomb limit is set to it) |
| `HFM_FILE_TIMEOUT_S` | 60 | seconds to read and check one input |
| `HFM_FILE_MEMORY_BYTES` | 2 GiB | address space one reader may add (`RLIMIT_AS`), behind the headers |
| `HFM_MAX_MODEL_PARAMETERS` | 2 000 000 000 | parameters a model `config.json` may declare |
"""

from __future__ import annotations

import os
import resource
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from hfm.shared.errors import HFMError, InvalidInput

MIB = 1 << 20
GIB = 1 << 30


class FileTimeLimit(BaseException):
    """Raised inside a reader when its time is up; a BaseException so readers' `except Exception` cannot eat it."""


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = int(float(text))
    except ValueError:
        raise HFMError(f"environment variable {name}={text!r}: not a number") from None
    if value <= 0:
        raise HFMError(f"environment variable {name}={text!r}: must be positive")
    return value


@dataclass(frozen=True)
class ResourceBudget:
    max_decoded_bytes: int = 512 * MIB
    max_image_pixels: int = 40_000_000
    file_timeout_s: int = 60
    file_memory_bytes: int = 2 * GIB
    max_model_parameters: int = 2_000_000_000

    def check_decoded(self, nbytes: int, what: str, field: str = "file") -> None:
        """`InvalidInput` (code `too_large`) when `what` would decode to more than the limit."""
        if nbytes > self.max_decoded_bytes:
            raise InvalidInput(
                f"{what} decodes to {human_bytes(nbytes)}, above the limit of {human_bytes(self.max_decoded_bytes)}"
                " (raise HFM_MAX_DECODED_BYTES to accept it)",
                field=field,
                code="too_large",
            )

    def check_pixels(self, width: int, height: int, what: str) -> None:
        if width * height > self.max_image_pixels:
            raise InvalidInput(
                f"{what} declares {width}x{height} pixels, above the limit of {self.max_image_pixels}"
                " (decompression bomb? raise HFM_MAX_IMAGE_PIXELS to accept it)",
                field="image",
                code="too_large",
            )


def current_budget() -> ResourceBudget:
    """The budget from the environment, read at each call so a test or an operator can change it."""
    default = ResourceBudget()
    return ResourceBudget(
        max_decoded_bytes=_env_int("HFM_MAX_DECODED_BYTES", default.max_decoded_bytes),
        max_image_pixels=_env_int("HFM_MAX_IMAGE_PIXELS", default.max_image_pixels),
        file_timeout_s=_env_int("HFM_FILE_TIMEOUT_S", default.file_timeout_s),
        file_memory_bytes=_env_int("HFM_FILE_MEMORY_BYTES", default.file_memory_bytes),
        max_model_parameters=_env_int("HFM_MAX_MODEL_PARAMETERS", default.max_model_parameters),
    )


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"


def _address_space() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def _memory_limit(extra_bytes: int) -> Iterator[None]:
    """Cap the address space at its current size plus `extra_bytes`: an allocation beyond is a MemoryError."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = _address_space() + extra_bytes
    except (OSError, ValueError):  # no /proc (not Linux): the header checks remain
        yield
        return
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY and soft <= limit:
        yield  # an operator's own, tighter limit stays
        return
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """SIGALRM after `seconds`; only in the main thread and where nobody else uses the alarm."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGALRM)
    if previous not in (signal.SIG_DFL, signal.SIG_IGN, None) or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise FileTimeLimit(seconds)

    signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def file_limits(budget: ResourceBudget | None = None) -> Iterator[None]:
    """Per-input time and memory limits around one reader call (curation wraps every item's load in it)."""
    budget = budget or current_budget()
    with _time_limit(budget.file_timeout_s), _memory_limit(budget.file_memory_bytes):
        yield
