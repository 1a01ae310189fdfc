"""Benchmark: what the trainer costs over a bare PyTorch loop doing the same optimisation.

Both sides train the same `toy-regression` model (same seed, data, global batch, steps, AdamW with the same
parameter groups, clipping and warm-up + cosine schedule) in this process, one after the other, alternating which
goes first, `repeats` times; the medians are compared. The trainer runs with its defaults for logging (JSONL +
TensorBoard every 10 steps, progress bar), writes its run folder, environment, final checkpoint and weights: that is
what a user pays for.

Two figures: the whole call (set-up, loop, final save) and the loop alone (first step to last step), each a `Figure`
(lower is better) whose test units are the repeats: the interval is a paired bootstrap over repeats of the difference
of the medians, so a repeat's two back-to-back runs stay together.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import paired_bootstrap
from hfm.shared.parallel import torch_threads
from hfm.shared.train.config import Config, DataConfig, OptimConfig, RunConfig, TaskConfig, TrainConfig
from hfm.shared.train.rng import seed_everything
from hfm.shared.train.schedule import warmup_cosine
from hfm.shared.train.toy import toy_regression
from hfm.shared.train.trainer import Trainer, parameter_groups

COMMAND = "nox -s bench  (python tools/bench.py --only trainer-overhead)"
TASK = {"samples": 1024, "tokens": 16, "features": 16, "width": 48, "depth": 2, "heads": 4}


def _config(out_dir: Path, steps: int, batch: int) -> Config:
    return Config(
        run=RunConfig(out_dir=str(out_dir), seed=0),
        task=TaskConfig(name="toy-regression", options=dict(TASK)),
        train=TrainConfig(steps=steps, batch_size=batch, log_every=10, ckpt_every=steps),
        optim=OptimConfig(lr=1e-3, warmup_steps=5),
        data=DataConfig(num_workers=0, shuffle=True),
    )


def bare_loop(config: Config) -> tuple[float, float]:
    """The loop a user would write by hand. Returns (whole call, loop only) in seconds."""
    start = time.perf_counter()
    task = toy_regression(dict(config.task.options))
    seed_everything(config.run.seed)
    model = task.build_model()
    dataset = task.train_dataset()
    o, t = config.optim, config.train
    # The same optimisation as the trainer's: no weight decay on biases and norm scales.
    groups = parameter_groups(model, o.weight_decay)
    optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, t.steps, o.warmup_steps, o.lr, o.min_lr) / o.lr
    )
    loader = DataLoader(dataset, batch_size=t.batch_size, shuffle=True, drop_last=True)
    loop_start = time.perf_counter()
    step = 0
    model.train()
    while step < t.steps:
        for x, y in loader:
            loss = F.mse_loss(model(x).float(), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), t.clip_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if step == t.steps:
                break
    loss.item()
    end = time.perf_counter()
    return end - start, end - loop_start


def trainer_run(config: Config) -> tuple[float, float]:
    start = time.perf_counter()
    Trainer(config, toy_regression(dict(config.task.options))).fit()
    end = time.perf_counter()
    lines = (Path(config.run.out_dir) / "metrics.jsonl").read_text().splitlines()
    loop = float(json.loads(lines[-1])["wall_s"])  # loop start to the last step, as the trainer logs it
    return end - start, loop


def trainer_overhead(repeats: int = 10, steps: int = 100, batch: int = 32, threads: int = 1) -> list[Figure]:
    # One thread: on a shared machine, several threads per side mostly measure the neighbours' load.
    with torch_threads(threads):
        return _measure(repeats, steps, batch)


def _measure(repeats: int, steps: int, batch: int) -> list[Figure]:
    bare: list[tuple[float, float]] = []
    ours: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory(prefix="hfm-bench-") as tmp:
        bare_loop(_config(Path(tmp) / "warm", 3, batch))  # first-call costs (imports, allocator) off the clock
        sides = [("bare", bare_loop, bare), ("trainer", trainer_run, ours)]
        for r in range(repeats + 1):
            config = _config(Path(tmp) / f"run{r}", steps, batch)
            for _, run, times in sides if r % 2 else reversed(sides):
                result = run(config)
                if r:  # repeat 0 warms up both sides
                    times.append(result)
    figures = []
    for index, label in ((0, "whole call (set-up, loop, final save)"), (1, "training loop only")):
        trainer_s = [t[index] for t in ours]
        bare_s = [t[index] for t in bare]
        _, low, high = paired_bootstrap(trainer_s, bare_s, statistic=_median, seed=index)
        # The speed of a shared VM's CPU drifts by +-20% over seconds: the ratios of the two runs of each repeat
        # (back to back) show how far apart repeats land, i.e. what difference this measurement can resolve.
        paired = sorted(o / b for o, b in zip(trainer_s, bare_s, strict=True))
        q1, q3 = _quartiles(paired)
        figures.append(
            Figure(
                name=f"trainer vs bare PyTorch loop: {label}",
                task="core/trainer overhead",
                metric=f"wall time, {label.split(' (')[0]}",
                higher_is_better=False,
                value=statistics.median(trainer_s),
                baseline=statistics.median(bare_s),
                baseline_name="bare PyTorch loop",
                n_test=len(paired),
                test_unit="repeats",
                interval=(low, high),
                interval_method=f"paired bootstrap of the median over {len(paired)} repeats, 2000 resamples",
                unit="s",
                command=COMMAND,
                headline=index == 1,
                goal="ratio < 1.03",
                notes=f"toy-regression {TASK}, batch {batch}, {steps} steps, CPU, {torch.get_num_threads()} "
                f"threads, medians of {repeats} interleaved repeats; per-repeat ratios trainer / bare: median "
                f"{statistics.median(paired):.3f}, quartiles {q1:.3f}-{q3:.3f}",
            )
        )
    return figures


def _median(values: np.ndarray, _indices: np.ndarray) -> float:
    return float(statistics.median(values))


def _quartiles(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return values[0], values[0]
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3
