"""Metrics of the main process to JSONL files (one object per line) and to TensorBoard.

Training lines go to metrics.jsonl, validation lines (model selection) to validation.jsonl, so each file keeps one
shape of line; TensorBoard gets both, the validation scalars as `val_<metric>`.
"""

from __future__ import annotations

import json
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
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def log(self, step: int, values: dict[str, Any]) -> None:
        self._file.write(json.dumps({"step": step, **values}, sort_keys=True) + "\n")
        if self._tb is not None:
            for key, value in values.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    self._tb.add_scalar(key, value, step)

    def log_validation(self, step: int, values: dict[str, float]) -> None:
        if self._validation_file is None:  # only runs with model selection get the file
            self._validation_file = open(self.validation_path, "a", buffering=1)  # noqa: SIM115 - closed in close()
        self._validation_file.write(json.dumps({"step": step, **values}, sort_keys=True) + "\n")
        if self._tb is not None:
            for key, value in values.items():
                self._tb.add_scalar(f"val_{key}", value, step)

    def close(self) -> None:
        self._file.close()
        if self._validation_file is not None:
            self._validation_file.close()
        if self._tb is not None:
            self._tb.close()
