"""Metrics of the main process to JSONL files (one object per line) and to TensorBoard.

Training lines go to metrics.jsonl, validation lines (model selection) to validation.jsonl, so each file keeps one
shape of line; TensorBoard gets both, the validation scalars as `val_<metric>`.

A logged line is one TensorBoard event holding all its scalars (TensorBoard reads every value of an event's summary,
as it did for TensorFlow's merged summaries). One `add_scalar` per value, as torch's SummaryWriter offers, cost about
six times as much: each event wakes the writer thread, which checksums it in pure Python while holding the GIL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class MetricsLog:
    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.validation_path = run_dir / "validation.jsonl"
        self._file = open(self.path, "a", buffering=1)  # noqa: SIM115 - open for the run; line-buffered so a kill loses no line
        self._validation_file = None
        self._tb = None
        if tensorboard:
            from tensorboard.summary.writer.event_file_writer import EventFileWriter

            self._tb = EventFileWriter(str(run_dir / "tensorboard"))

    def log(self, step: int, values: dict[str, Any]) -> None:
        self._file.write(json.dumps({"step": step, **values}, sort_keys=True) + "\n")
        self._scalars(step, values, "")

    def log_validation(self, step: int, values: dict[str, float]) -> None:
        if self._validation_file is None:  # only runs with model selection get the file
            self._validation_file = open(self.validation_path, "a", buffering=1)  # noqa: SIM115 - closed in close()
        self._validation_file.write(json.dumps({"step": step, **values}, sort_keys=True) + "\n")
        self._scalars(step, values, "val_")

    def _scalars(self, step: int, values: dict[str, Any], prefix: str) -> None:
        if self._tb is None:
            return
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.compat.proto.summary_pb2 import Summary

        scalars = [
            Summary.Value(tag=f"{prefix}{key}", simple_value=float(value))
            for key, value in values.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        ]
        if scalars:
            self._tb.add_event(Event(wall_time=time.time(), step=step, summary=Summary(value=scalars)))

    def close(self) -> None:
        self._file.close()
        if self._validation_file is not None:
            self._validation_file.close()
        if self._tb is not None:
            self._tb.close()
