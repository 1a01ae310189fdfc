"""Metrics of the main process to JSONL files (one object per line) and to TensorBoard.

Training lines go to metrics.jsonl, validation lines (model selection) to validation.jsonl, so each file keeps one
shape of line; TensorBoard gets both, the validation scalars as `val_<metric>`.

TensorBoard's event file is written here, in the training thread: a logged line is one event holding all its
scalars (TensorBoard reads every value of an event's summary, as it did for TensorFlow's merged summaries), framed
by tensorboard's own `RecordWriter` and flushed at once, like the JSONL line. torch's SummaryWriter hands each scalar
to a writer thread instead; on a loaded machine every hand-over of the GIL to that thread could stall the training
loop for milliseconds (2-4 ms per logged line measured at load 10, several percent of a small model's loop).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from pathlib import Path
from typing import Any

_file_ids = itertools.count()  # event files of one process and second still get distinct names


class EventFile:
    """A TensorBoard event file (TFRecord-framed `Event` protos) written synchronously."""

    def __init__(self, folder: Path) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.summary.writer.record_writer import RecordWriter

        folder.mkdir(parents=True, exist_ok=True)
        name = f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}.{next(_file_ids)}"
        self.path = folder / name
        self._records = RecordWriter(open(self.path, "wb"))  # noqa: SIM115 - open for the run, closed in close()
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2"))

    def scalars(self, step: int, values: dict[str, float]) -> None:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        summary = Summary(value=[Summary.Value(tag=tag, simple_value=value) for tag, value in values.items()])
        self._write(Event(wall_time=time.time(), step=step, summary=summary))

    def _write(self, event: Any) -> None:
        self._records.write(event.SerializeToString())
        self._records.flush()  # a kill loses no logged line here either

    def close(self) -> None:
        self._records.close()


class MetricsLog:
    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.validation_path = run_dir / "validation.jsonl"
        self._file = open(self.path, "a", buffering=1)  # noqa: SIM115 - open for the run; line-buffered so a kill loses no line
        self._validation_file = None
        self._tb = EventFile(run_dir / "tensorboard") if tensorboard else None

    def log(self, step: int, values: dict[str, Any]) -> None:
        self._file.write(json.dumps({"step": step, **values}, sort_keys=True) + "\n")
        self._scalars(step, values, "")

    def log_validation(self, step: int, values: dict[str, float]) -> None:
        if self._validation_file is None:  # only runs with model selection get the file
            self._validation_file = open(self.validation_path, "a", buffering=1)  # noqa: SIM115 - closed in close()
        self._validation_file.write(json.dumps({"step": step, **values}, sort_keys=True) + "\n")
        self._scalars(step, values, "val_")

    def _scalars(self, step: int, values: dict[str, Any], prefix: str) -> None:
        numbers = {
            f"{prefix}{key}": float(value)
            for key, value in values.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        if self._tb is not None and numbers:
            self._tb.scalars(step, numbers)

    def close(self) -> None:
        self._file.close()
        if self._validation_file is not None:
            self._validation_file.close()
        if self._tb is not None:
            self._tb.close()
