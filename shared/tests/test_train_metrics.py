"""The metrics log: JSONL lines and TensorBoard scalars that TensorBoard's own reader gets back."""

from __future__ import annotations

import json

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from hfm.shared.train.metrics import MetricsLog


def test_metrics_reach_jsonl_and_tensorboard(tmp_path):
    log = MetricsLog(tmp_path)
    log.log(10, {"loss": 0.5, "lr": 1e-3, "epoch": 0, "resumed": True, "note": "text"})
    log.log(20, {"loss": 0.25, "lr": 5e-4, "epoch": 1, "resumed": False, "note": "text"})
    log.log_validation(20, {"loss": 0.4, "mae": 0.3})
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["loss"], r["note"]) for r in lines] == [(10, 0.5, "text"), (20, 0.25, "text")]
    assert json.loads((tmp_path / "validation.jsonl").read_text()) == {"step": 20, "loss": 0.4, "mae": 0.3}
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    # Numbers only (booleans and text are not scalars); validation scalars under val_.
    assert sorted(events.Tags()["scalars"]) == ["epoch", "loss", "lr", "val_loss", "val_mae"]
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(10, 0.5), (20, 0.25)]
    assert [e.value for e in events.Scalars("lr")] == pytest.approx([1e-3, 5e-4])
    assert [(e.step, e.value) for e in events.Scalars("epoch")] == [(10, 0.0), (20, 1.0)]
    assert [(e.step, e.value) for e in events.Scalars("val_mae")] == [(20, pytest.approx(0.3))]


def test_metrics_without_tensorboard_write_no_event_file(tmp_path):
    log = MetricsLog(tmp_path, tensorboard=False)
    log.log(1, {"loss": 1.0})
    log.close()
    assert not (tmp_path / "tensorboard").exists()
    assert json.loads((tmp_path / "metrics.jsonl").read_text()) == {"step": 1, "loss": 1.0}


def test_a_logged_line_is_on_disk_before_close(tmp_path):
    log = MetricsLog(tmp_path)
    log.log(5, {"loss": 2.0})  # no close: what a killed run leaves
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(5, 2.0)]
    log.close()
    resumed = MetricsLog(tmp_path)  # a resumed session: its own event file beside the first
    resumed.log(6, {"loss": 1.5})
    resumed.close()
    assert len(list((tmp_path / "tensorboard").iterdir())) == 2
