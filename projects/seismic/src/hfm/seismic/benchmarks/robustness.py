"""Choosing the hfm picker's tokenizer scaling and component augmentation on the NCEDC dev stations (issue 14).

Every variant is the picker from scratch on the benchmark's training crops (same steps, batch and learning rate as
its fine-tuning), once per seed (seeded crops and training); each is scored on the dev records alone: P and S F1 of
the record picks at the dev-tuned threshold (the benchmark's `dev_f1`) and the share of dev picks hit within 0.2 s.
The rule, fixed before the runs: the variant with the highest mean over seeds of dev P F1 + S F1. The DFDP test
set is never read here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from hfm.seismic.benchmarks.picking import PickBenchConfig, batched, hfm_predictor, sliding_probabilities
from hfm.seismic.data.records import Records, pick_windows, training_crops
from hfm.seismic.metrics.picks import f1_at, tune_threshold
from hfm.seismic.training import finetune_windows

VARIANTS: dict[str, dict[str, Any]] = {
    "window": {"normalization": "window"},
    "component": {"normalization": "component"},
    "component + dropout 0.3": {"normalization": "component", "horizontal_dropout": 0.3},
    "component + noise 0.5": {"normalization": "component", "horizontal_noise": 0.5},
    "component + dropout 0.3 + noise 0.5": {
        "normalization": "component",
        "horizontal_dropout": 0.3,
        "horizontal_noise": 0.5,
    },
    "window + noise 0.5": {"normalization": "window", "horizontal_noise": 0.5},
}


def dev_scores(model, dev: Records, window: int) -> dict[str, float]:
    """Dev P/S F1 at the threshold tuned on the same dev records, and dev hit rates within 0.2 s."""
    predict, rate = hfm_predictor(model), dev.sampling_rate
    probs = [sliding_probabilities(predict, w, window) for w in dev.waveforms]
    row: dict[str, float] = {}
    for index, phase in enumerate(("P", "S")):
        threshold = tune_threshold(probs, dev.onsets(phase), index, rate)
        row[f"dev {phase} F1"] = float(f1_at(probs, dev.onsets(phase), index, rate, threshold))
        pw = pick_windows(dev, phase, window, 0)
        residual = (batched(predict, pw.waveforms)[:, index].argmax(-1) - pw.onset) / rate
        row[f"dev {phase} hit 0.2 s"] = float((np.abs(residual) <= 0.2).mean())
    return row


def select_on_dev(
    train: Records,
    dev: Records,
    out: str | Path,
    config: PickBenchConfig,
    variants: dict[str, dict[str, Any]] = VARIANTS,
    seeds: tuple[int, ...] = (0, 1, 2),
) -> list[dict[str, Any]]:
    """One row per (variant, seed): its options and dev scores."""
    rows = []
    for seed in seeds:
        crops = training_crops(train, config.window, config.crops_per_record, seed)
        for name, options in variants.items():
            model, _ = finetune_windows(
                crops,
                Path(out) / f"{name.replace(' ', '_')}-seed{seed}",
                steps=config.finetune_steps,
                batch_size=config.batch_size,
                lr=config.lr,
                seed=seed,
                progress=False,
                samples=config.window,
                **options,
            )
            rows.append({"variant": name, "seed": seed, **options, **dev_scores(model, dev, config.window)})
    return rows


def chosen_variant(rows: list[dict[str, Any]]) -> str:
    """The variant with the highest mean over seeds of dev P F1 + S F1 (the first listed on a tie)."""
    means: dict[str, list[float]] = {}
    for row in rows:
        means.setdefault(row["variant"], []).append(row["dev P F1"] + row["dev S F1"])
    return max(means, key=lambda name: float(np.mean(means[name])))
