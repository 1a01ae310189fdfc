"""Choosing the hfm picker's tokenizer scaling and component augmentation on the NCEDC dev stations (issue 14).

Every variant is the benchmark's picker (`recipe.finetune_picker`: its crops, steps, batch, learning rate, target
width and refiner) with the variant's options, from scratch unless an encoder is given, once per seed. Each is
scored on the dev records under every sensor condition of `hfm.seismic.data.sensor_conditions` (as recorded, noisy
horizontals, gain mismatch, a dead horizontal, rotated horizontals): thresholds tuned on the dev records as recorded
(as the benchmark tunes them), then P and S F1 of the record picks at those thresholds and the share of dev picks
hit within 0.2 s under each condition.

The rule, fixed before the runs (`chosen_variant`, `DEPLOYMENT`): the variant with the highest mean over seeds of
the mean over the dev conditions of dev P F1 + S F1 (a network whose sensors differ from the training network's).
The first session's rule, dev P F1 + S F1 as recorded only, is `AS_RECORDED`. The DFDP test set is never read here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from hfm.seismic.benchmarks.picking import PickBenchConfig, batched, hfm_predictor, sliding_probabilities
from hfm.seismic.benchmarks.recipe import finetune_picker, finetune_picker_states, picker_options, view
from hfm.seismic.data.records import Records, detection_windows, pick_windows
from hfm.seismic.data.sensor_conditions import CONDITIONS, under_condition
from hfm.seismic.metrics.picks import f1_at, tune_threshold
from hfm.shared.errors import HFMError


def _variant(normalization: str, dropout: float = 0.0, noise: float = 0.0) -> dict[str, Any]:
    # every option spelt out: a variant replaces the config's scaling and augmentation, it does not inherit them
    return {"normalization": normalization, "horizontal_dropout": dropout, "horizontal_noise": noise}


VARIANTS: dict[str, dict[str, Any]] = {
    "window": _variant("window"),
    "component": _variant("component"),
    "component + dropout 0.3": _variant("component", dropout=0.3),
    "component + noise 0.5": _variant("component", noise=0.5),
    "component + dropout 0.3 + noise 0.5": _variant("component", 0.3, 0.5),
    "window + noise 0.5": _variant("window", noise=0.5),
    "component + noise 1.0": _variant("component", noise=1.0),
}


def dev_scores(model, dev: Records, window: int, conditions: tuple[str, ...] = CONDITIONS) -> dict[str, float]:
    """Per condition: dev P/S F1 at the thresholds tuned on the dev records as recorded, and dev hits within 0.2 s.
    Keys `"{condition}: dev P F1"` etc.; the as-recorded keys also without the prefix (`"dev P F1"`)."""
    predict, rate = hfm_predictor(model), dev.sampling_rate
    probs = [sliding_probabilities(predict, w, window) for w in dev.waveforms]
    thresholds = [tune_threshold(probs, dev.onsets(phase), index, rate) for index, phase in enumerate(("P", "S"))]
    row: dict[str, float] = {}
    for condition in conditions:
        records = under_condition(dev, condition)
        if condition != "as recorded":
            probs = [sliding_probabilities(predict, w, window) for w in records.waveforms]
        for index, phase in enumerate(("P", "S")):
            f1 = float(f1_at(probs, records.onsets(phase), index, rate, thresholds[index]))
            pw = pick_windows(records, phase, window, 0)
            residual = (batched(predict, pw.waveforms)[:, index].argmax(-1) - pw.onset) / rate
            row[f"{condition}: dev {phase} F1"] = f1
            row[f"{condition}: dev {phase} hit 0.2 s"] = float((np.abs(residual) <= 0.2).mean())
    for key in [k for k in row if k.startswith("as recorded: ")]:
        row[key.removeprefix("as recorded: ")] = row[key]
    waves, is_event = dev_detection_windows(dev, window, 0)
    row["dev detection ROC-AUC"] = float(roc_auc_score(is_event, 1.0 - batched(predict, waves)[:, 2].min(axis=-1)))
    return row


CODA_MARGIN_S = 10.0


def dev_detection_windows(records: Records, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(windows, is_event) for a dev detection ROC-AUC: the benchmark's event windows (P at a seeded place) and,
    as noise, each record's last `samples` where they start `CODA_MARGIN_S` after the end of the detection target
    (S + 1.4 (S - P), SeisBench's rule). Why not pre-P noise as on DFDP: the NCEDC windows hold only 30 s before
    P, too little for a 30 s window ending 2 s before it."""
    windows, is_event, _ = detection_windows(records, samples, seed)
    events = list(windows[is_event])
    noise = []
    rate = records.sampling_rate
    for wave, p, s in zip(records.waveforms, records.p_sample, records.s_sample, strict=True):
        end_of_event = s + 1.4 * (s - p) if np.isfinite(s) else p + 10 * rate
        start = wave.shape[-1] - samples
        if np.isfinite(p) and start >= end_of_event + CODA_MARGIN_S * rate:
            noise.append(wave[:, start:])
    labels = np.array([True] * len(events) + [False] * len(noise))
    return np.stack(events + noise).astype(np.float32), labels


def as_recorded(row: dict[str, Any]) -> float:
    """The first session's rule: dev P F1 + S F1 on the dev records as recorded."""
    return row["dev P F1"] + row["dev S F1"]


def deployment(row: dict[str, Any]) -> float:
    """Issue 14's deployment rule: the mean over the dev conditions scored in `row` of dev P F1 + S F1."""
    sums = [row[f"{c}: dev P F1"] + row[f"{c}: dev S F1"] for c in CONDITIONS if f"{c}: dev P F1" in row]
    if not sums:
        raise HFMError("deployment rule: the row holds no condition scores (score with dev_scores)")
    return float(np.mean(sums))


AS_RECORDED, DEPLOYMENT = as_recorded, deployment


def select_on_dev(
    train: Records,
    dev: Records,
    out: str | Path,
    config: PickBenchConfig,
    variants: dict[str, dict[str, Any]] = VARIANTS,
    seeds: tuple[int, ...] = (0, 1, 2),
    conditions: tuple[str, ...] = CONDITIONS,
    init: str | None = None,
) -> list[dict[str, Any]]:
    """One row per (variant, seed): the options it trained with and its dev scores under `conditions`. Each
    variant is the benchmark's picker (`recipe.finetune_picker`: `config`'s whole recipe, refiner included) with
    the variant's options changed, from `init` (None: scratch); `{}` is the present recipe."""
    rows = []
    train, dev = view(train, config), view(dev, config)
    for seed in seeds:
        for name, options in variants.items():
            run = Path(out) / f"{name.replace(' ', '_')}-seed{seed}"
            model = finetune_picker(train, run, config.settings(config.finetune_steps, seed), config, init, **options)
            trained = {k: v for k, v in picker_options(config, init, **options).items() if k != "init"}
            rows.append({"variant": name, "seed": seed, **trained, **dev_scores(model, dev, config.window, conditions)})
    return rows


def state_rows(
    train: Records,
    dev: Records,
    out: str | Path,
    config: PickBenchConfig,
    every: int,
    seeds: tuple[int, ...] = (0, 1, 2),
    init: str | None = None,
    **overrides: Any,
) -> dict[int, list[dict[str, Any]]]:
    """{step: one row per seed}: the dev scores (as recorded, detection included) of the benchmark's picker at every
    `every` steps of one fine-tuning run per seed, for `devrule.choose_output_steps`."""
    train, dev = view(train, config), view(dev, config)
    by_step: dict[int, list[dict[str, Any]]] = {}
    for seed in seeds:
        settings = config.settings(config.finetune_steps, seed)
        run = Path(out) / f"states-seed{seed}"
        states = finetune_picker_states(train, run, settings, config, every, init, **overrides)
        for step, model in states.items():
            scores = dev_scores(model, dev, config.window, ("as recorded",))
            by_step.setdefault(step, []).append({"seed": seed, "step": step, **scores})
    return by_step


def variant_means(rows: list[dict[str, Any]], rule: Callable[[dict[str, Any]], float] = DEPLOYMENT) -> dict[str, float]:
    """Each variant's mean over its seeds of `rule`, in the order the variants first appear."""
    scores: dict[str, list[float]] = {}
    for row in rows:
        scores.setdefault(row["variant"], []).append(rule(row))
    return {name: float(np.mean(values)) for name, values in scores.items()}


def chosen_variant(rows: list[dict[str, Any]], rule: Callable[[dict[str, Any]], float] = DEPLOYMENT) -> str:
    """The variant with the highest mean over seeds of `rule` (the first listed on a tie)."""
    means = variant_means(rows, rule)
    return max(means, key=means.get)
