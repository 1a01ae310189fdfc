"""Run config from YAML with --set overrides and key-naming errors; the sampler and schedule it drives."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from hfm.shared.errors import HFMError
from hfm.shared.train.config import Config, config_to_dict, config_to_yaml, load_config
from hfm.shared.train.sampler import DataPosition, ResumableBatchSampler
from hfm.shared.train.schedule import warmup_cosine

RUN_YAML = """
run: {out_dir: runs/x, seed: 3}
task: {name: toy-regression, width: 16, dropout: 0.1}
train: {steps: 20, batch_size: 8, precision: bf16, clip_norm: null}
optim: {lr: 1e-3, warmup_steps: 2}
ema: {enabled: true}
"""


def write(tmp_path, text=RUN_YAML):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_yaml_values_and_overrides_land_typed(tmp_path):
    cfg = load_config(
        write(tmp_path),
        [
            "optim.lr=3e-4",
            "train.steps=50",
            "ema.enabled=false",
            "task.width=24",
            "task.note=hello",
            "train.clip_norm=2",
        ],
    )
    assert cfg.optim.lr == pytest.approx(3e-4) and isinstance(cfg.optim.lr, float)
    assert cfg.train.steps == 50 and cfg.train.precision == "bf16"
    assert cfg.ema.enabled is False and cfg.ema.decay == 0.999  # default kept
    assert cfg.train.clip_norm == 2.0
    assert cfg.task.name == "toy-regression"
    assert cfg.task.options == {"width": 24, "dropout": 0.1, "note": "hello"}
    assert cfg.run.seed == 3 and cfg.optim.warmup_steps == 2


def test_yaml_null_and_round_trip(tmp_path):
    cfg = load_config(write(tmp_path))
    assert cfg.train.clip_norm is None
    again = load_config(write(tmp_path, config_to_yaml(cfg)))
    assert again == cfg


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["train.stepz=3"], "train.stepz: unknown key; known keys in train: steps"),
        (["trian.steps=3"], "trian: unknown section"),
        (["train.steps=many"], "train.steps: expected an integer, got 'many'"),
        (["train.steps=2.5"], "train.steps: expected an integer"),
        (["optim.lr=fast"], "optim.lr: expected a number, got 'fast'"),
        (["ema.enabled=maybe"], "ema.enabled: expected true or false"),
        (["train.precision=fp16"], "train.precision: must be one of no, bf16, got 'fp16'"),
        (["train.steps=0"], "train.steps: must be > 0, got 0"),
        (["train.batch_size=10", "train.grad_accum=3"], "train.batch_size: 10 is not divisible by train.grad_accum=3"),
        (["optim.min_lr=1"], "optim.min_lr: must lie in [0, optim.lr=0.001]"),
        (["steps=3"], "expected section.key=value"),
    ],
)
def test_bad_keys_and_values_name_the_key(tmp_path, overrides, message):
    with pytest.raises(HFMError) as error:
        load_config(write(tmp_path), overrides)
    assert message in str(error.value)


def test_bad_yaml_names_the_file(tmp_path):
    with pytest.raises(HFMError, match=r"run.yaml: train.steps: expected an integer, got 'ten'"):
        load_config(write(tmp_path, "train: {steps: ten}\n"))
    with pytest.raises(HFMError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_sampler_shards_cover_each_global_batch_exactly_once():
    position = DataPosition(seed=5)
    ranks = [ResumableBatchSampler(40, 8, 2, rank, 2, DataPosition(seed=5)) for rank in range(2)]
    single = ResumableBatchSampler(40, 8, 2, 0, 1, position)
    per_rank = [list(s) for s in ranks]
    assert len(per_rank[0]) == 5 * 2 and all(len(b) == 2 for b in per_rank[0])
    # Micro-batch m of a step is rank 0's shard followed by rank 1's: the same samples as one process.
    merged = [per_rank[0][i] + per_rank[1][i] for i in range(len(per_rank[0]))]
    assert merged == list(single)
    seen = [i for batch in merged for i in batch]
    assert sorted(seen) == list(range(40))  # 40 = 5 full global batches, nothing dropped, nothing repeated


def test_sampler_resumes_at_offset_and_reshuffles_per_epoch():
    full = ResumableBatchSampler(48, 8, 1, 0, 1, DataPosition(seed=1))
    batches = list(full)
    resumed = ResumableBatchSampler(48, 8, 1, 0, 1, DataPosition(seed=1, epoch=0, offset=4))
    assert list(resumed) == batches[4:]
    for _ in range(full.steps_per_epoch):
        full.advance()
    assert (full.position.epoch, full.position.offset) == (1, 0)
    assert list(full) != batches and sorted(i for b in full for i in b) == sorted(i for b in batches for i in b)
    assert torch.equal(full.permutation(1), ResumableBatchSampler(48, 8, 1, 1, 1, DataPosition(seed=1)).permutation(1))


def test_sampler_rejects_batches_that_do_not_split():
    with pytest.raises(HFMError, match=r"divisible by train\.grad_accum"):
        ResumableBatchSampler(64, 6, 1, 0, 4, DataPosition(seed=0))
    with pytest.raises(HFMError, match="larger than the dataset"):
        ResumableBatchSampler(4, 8, 1, 0, 1, DataPosition(seed=0))


def test_warmup_then_cosine_to_min_lr():
    lrs = [warmup_cosine(s, 12, 2, 1.0, 0.1) for s in range(12)]
    assert lrs[:3] == pytest.approx([0.5, 1.0, 1.0])
    assert lrs[-1] == pytest.approx(0.1)
    assert lrs[6] == pytest.approx(0.1 + 0.45 * (1 + math.cos(math.pi * 4 / 9)))
    assert all(a >= b for a, b in itertools.pairwise(lrs[1:]))


def test_short_run_defaults_and_overrides():
    config = Config.short_run("out", "toy-regression", {"samples": 64}, steps=200, batch_size=8, lr=1e-3, seed=3)
    assert (config.train.log_every, config.train.ckpt_every, config.train.keep_last) == (20, 200, 1)
    assert (config.optim.warmup_steps, config.optim.min_lr, config.run.seed) == (20, 1e-4, 3)
    assert config_to_dict(config)["task"] == {"name": "toy-regression", "samples": 64}
    few = Config.short_run("out", "t", {}, steps=5, batch_size=8, lr=1e-3, warmup_steps=0, min_lr=0.0, logs=5)
    assert (few.train.log_every, few.optim.warmup_steps, few.optim.min_lr) == (1, 0, 0.0)
