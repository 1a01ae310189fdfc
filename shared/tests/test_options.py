from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from hfm.shared.errors import HFMError
from hfm.shared.options import options_dict, parse_options


@dataclass(frozen=True)
class MAEOptions:
    dataset: Path
    samples: int = 1000
    mask_ratio: float = 0.75
    split: Literal["train", "dev"] = "train"
    init: Path | None = None
    model_args: dict = field(default_factory=dict)


def test_unknown_key_is_refused_with_its_name_and_the_allowed_ones():
    with pytest.raises(HFMError) as error:
        parse_options(MAEOptions, {"dataset": "/d", "sampels": 400}, "task seismic-mae")
    message = str(error.value)
    assert "task seismic-mae: unknown option 'sampels'" in message
    assert "allowed: dataset, init, mask_ratio, model_args, samples, split" in message


def test_values_are_converted_and_checked():
    options = parse_options(MAEOptions, {"dataset": "/d", "samples": "400", "mask_ratio": 1, "init": None}, "t")
    assert options == MAEOptions(dataset=Path("/d"), samples=400, mask_ratio=1.0)
    assert isinstance(options.mask_ratio, float)
    with pytest.raises(HFMError, match=r"option .samples.: expected a whole number, got 2\.5"):
        parse_options(MAEOptions, {"dataset": "/d", "samples": 2.5}, "t")
    with pytest.raises(HFMError, match="option 'split': 'test' is not one of 'train', 'dev'"):
        parse_options(MAEOptions, {"dataset": "/d", "split": "test"}, "t")
    with pytest.raises(HFMError, match="option 'dataset' is required"):
        parse_options(MAEOptions, {}, "t")
    with pytest.raises(HFMError, match="option 'samples': expected a number, got True"):
        parse_options(MAEOptions, {"dataset": "/d", "samples": True}, "t")


def test_options_round_trip_through_a_plain_dict():
    options = parse_options(MAEOptions, {"dataset": "/d", "init": "/w/model.safetensors", "samples": 7}, "t")
    plain = options_dict(options)
    assert plain == {
        "dataset": "/d",
        "samples": 7,
        "mask_ratio": 0.75,
        "split": "train",
        "init": "/w/model.safetensors",
        "model_args": {},
    }
    assert parse_options(MAEOptions, plain, "t") == options
