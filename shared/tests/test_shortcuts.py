"""A shortcut writes the YAML it runs; `hfm train` replays it to the same weights, byte for byte."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import TensorDataset

from hfm.shared.models.registry import create_model
from hfm.shared.options import options_dict, parse_options
from hfm.shared.shortcuts import RunSettings, shortcut_config, train_and_export
from hfm.shared.testing.replay import check_replay
from hfm.shared.train.task import register_task


@dataclass(frozen=True)
class SeriesOptions:
    samples: int = 64
    length: int = 64
    data_seed: int = 7


class SeriesMAETask:
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = parse_options(SeriesOptions, options, "task shortcut-series-mae")

    def build_model(self) -> torch.nn.Module:
        return create_model("series-mae-tiny", channels=1, patch_len=8)

    def train_dataset(self) -> TensorDataset:
        generator = torch.Generator().manual_seed(self.options.data_seed)
        t = torch.linspace(0, 6.28, self.options.length)
        phase = torch.rand(self.options.samples, 1, 1, generator=generator) * 6.28
        return TensorDataset(torch.sin(t + phase))

    def loss(self, model: torch.nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        return model(batch[0]).loss, {}


register_task("shortcut-series-mae")(SeriesMAETask)


def test_shortcut_writes_yaml_that_hfm_train_replays_byte_identically(tmp_path, capsys):
    options = options_dict(parse_options(SeriesOptions, {"samples": 32}, "t"))
    out = tmp_path / "pretrain"
    settings = RunSettings(steps=6, batch_size=8, lr=1e-3, overrides=("optim.weight_decay=0.0",))
    config = shortcut_config("shortcut-series-mae", options, out, settings)
    assert config.optim.weight_decay == 0.0
    result = train_and_export(config, out, description="d", intended_use="tests", limitations="none")
    assert result.status == "completed"
    assert (out / "run.yaml").read_text().count("shortcut-series-mae") == 1
    assert (result.model_dir / "model.safetensors").is_file()

    assert check_replay(out, tmp_path / "replay") == []
    weights = result.run_dir / "final" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b" ")  # as if the shortcut had trained something else
    replayed = tmp_path / "replay-2" / "final" / "model.safetensors"
    problem = f"{replayed} differs from {weights}: the replay trained other weights"
    assert check_replay(out, tmp_path / "replay-2") == [problem]
