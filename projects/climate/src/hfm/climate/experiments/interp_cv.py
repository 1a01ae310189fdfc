"""Temporal interpolation of 6 h gaps scored by blocked cross-validation over the whole record.

The folds are the ERA5 forecasters' (`crossval.ERA5`: 4 test blocks of 6 days, 1-day gaps around each, a 2-day
validation block before the lower gap, the first fold's after its upper gap). Per fold, on its training steps only:
climatology and normalisation are refitted; every baseline (`end_to_end.evaluate_interpolation`: linear in fields
and anomalies, cubic Hermite, the pooled least-squares interpolator `fitted_anomaly`) is refitted. hfm's base is
the best fitted linear interpolator on the validation block (`choose_base`): the radius of the pooled interpolator
with neighbourhood means (`fit_gap_weights`, `RADII`), then at that radius pooled or per-point weights. On it
`members` networks (zero-initialised corrections, one seed each) are trained, each member's checkpoint (step 0, the
base itself, included) chosen on the validation block; the fold's interpolator fills a gap with the mean of its
members' fillings (`models.InterpolatorEnsemble`: the base plus their mean correction), and that mean correction is
shrunk by the factor in [0, 1] that least squares on the validation windows gives (`shrink_factor`), so a
correction that only half holds is only half applied. So hfm is the best linear base plus what the networks add.
`fitted_neighbourhood` is the pooled base alone (the chosen radius; at radius 0 it is `fitted_anomaly`) and
`fitted_pointwise` the per-point one (the same radius; weights fitted point by point, shrunk toward the pooled
ones): one of them is hfm's base in each fold, so the networks' own share stays visible. The test windows of the
folds pair up for one moving-block bootstrap (within folds).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfm.climate.baselines.interpolation import (
    apply_gap_weights,
    apply_pointwise_weights,
    fit_gap_weights,
    fit_pointwise_weights,
    gap_layout,
)
from hfm.climate.data import FieldData, Normaliser, window_starts
from hfm.climate.experiments.crossval import ERA5, CVBudget, Protocol, export_selected, train_selected
from hfm.climate.experiments.folds import blocked_folds, mask_to_ranges
from hfm.climate.metrics import lat_weights

RADII = (0, 1, 2, 3, 4)  # hfm's base: each point's own hours, or with the 3 x 3 ... 9 x 9 neighbourhood means
# The benchmark's windows: 3 seen hours beyond each end of the 6 h gap (13 h windows). Chosen on the four folds'
# validation blocks only: the fitted interpolators' validation RMSE was lower with 3 than with 1 (the 9 h windows
# before) in every fold, and context at 6 and 12 h (t-12, t-6 | gap | t+6, t+12) was worse than 3 (docs/climate.md).
CONTEXT = 3
WINDOW = 7 + 2 * CONTEXT
# How the benchmark's network corrects its base (`models.InterpolatingMAE`), chosen on the folds' validation blocks.
CORRECTION = "weights"


@dataclass
class InterpCVResult:
    """Per-window RMSE of every method over all folds (time order), the fold of each window and each fold's
    choices (radius and kind of base, each member's checkpoint, the shrink factor) with their validation RMSE."""

    losses: dict[str, list[float]] = field(default_factory=dict)
    fold: list[int] = field(default_factory=list)
    folds: list[dict[str, Any]] = field(default_factory=list)


def gap_windows(data: FieldData, mask: np.ndarray, window: int, context: int, whole: bool = False) -> np.ndarray:
    """Starts of regular windows whose hidden steps all lie in `mask` (`whole`: every step of the window); the seen
    steps of a test window may lie outside the block, as observations around a gap do."""
    _, hidden = gap_layout(window, context)
    starts = np.arange(data.hours.size - window + 1)
    regular = np.isclose(np.diff(data.hours), data.step, atol=1e-6)
    steps = np.arange(window) if whole else hidden
    keep = mask[starts[:, None] + steps].all(axis=1) & np.array([regular[s : s + window - 1].all() for s in starts])
    return starts[keep]


def base_rmse(data: FieldData, weights: np.ndarray, radius: int, starts: np.ndarray, window: int,
              context: int) -> float:  # fmt: skip
    """Mean per-window RMSE (K, latitude-weighted) of a fitted linear interpolator of anomalies on `starts`:
    pooled (hidden, features) weights or per-point (V, H, W, hidden, features) ones."""
    from hfm.climate.experiments.crossval import forecast_rmse

    seen, hidden = gap_layout(window, context)
    idx = starts[:, None] + np.arange(window)
    anomalies, clim = data.anomalies(), data.climatology.at(data.times)
    apply = apply_gap_weights if weights.ndim == 2 else apply_pointwise_weights
    filled = clim[idx[:, hidden]] + apply(weights, anomalies[idx[:, seen]], radius)
    truth = data.fields[idx[:, hidden]]
    shape = (-1, *truth.shape[2:])
    per_step = forecast_rmse(filled.reshape(shape), truth.reshape(shape), data.lat)
    return float(per_step.reshape(-1, hidden.size).mean())


def choose_radius(data: FieldData, valid: np.ndarray, window: int, context: int) -> tuple[int, dict[int, float]]:
    """The base's neighbourhood radius with the lowest validation RMSE, each fitted on the training windows."""
    train = window_starts(data, window, "train")
    anomalies = data.anomalies()
    scores = {
        r: base_rmse(data, fit_gap_weights(anomalies, train, window, context, r), r, valid, window, context)
        for r in RADII
    }
    return min(scores, key=scores.get), scores


def choose_base(data: FieldData, valid: np.ndarray, window: int, context: int) -> tuple[int, str, dict[str, Any]]:
    """hfm's base, every candidate fitted on the training windows and scored on the validation windows: the radius
    of the pooled interpolator (`choose_radius`), then at that radius the pooled weights (`fitted`, the baseline
    `fitted_neighbourhood`) or the per-point ones (`pointwise`, the baseline `fitted_pointwise`), the lower
    validation RMSE kept. Returns (radius, kind, the scores)."""
    radius, radius_scores = choose_radius(data, valid, window, context)
    train, anomalies = window_starts(data, window, "train"), data.anomalies()
    pooled = fit_gap_weights(anomalies, train, window, context, radius)
    pointwise = fit_pointwise_weights(anomalies, train, window, context, radius, pooled)
    kinds = {"fitted": radius_scores[radius], "pointwise": base_rmse(data, pointwise, radius, valid, window, context)}
    return radius, min(kinds, key=kinds.get), {"radius": radius_scores, "base": kinds}


def hidden_fields(
    model: torch.nn.Module, data: FieldData, normaliser: Normaliser, starts: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """(filled, truth) hidden steps of the windows at `starts` in field units, (N, hidden, V, H, W)."""
    _, hidden = gap_layout(window, model.context)
    idx = starts[:, None] + np.arange(window)
    fields = data.fields[idx.ravel()].reshape(*idx.shape, *data.fields.shape[1:])
    z = normaliser.to_z(fields.reshape(-1, *fields.shape[2:]), idx.ravel())
    if model.encoder.tokenizer.variables != z.shape[1]:  # the climatology channel
        z = normaliser.with_climatology(z, idx.ravel())
    x = torch.from_numpy(z.reshape(*idx.shape, *z.shape[1:]))
    with torch.no_grad():
        z_pred = model.reconstruct(x, model(x, model.hidden_mask(tuple(x.shape[1:]), x.shape[0]))).numpy()
    z_hidden = z_pred[:, hidden, : fields.shape[2]]
    filled = normaliser.from_z(z_hidden.reshape(-1, *fields.shape[2:]), idx[:, hidden].ravel())
    return filled.reshape(fields[:, hidden].shape), fields[:, hidden]


def shrink_factor(model: torch.nn.Module, data: FieldData, normaliser: Normaliser, starts: np.ndarray,
                  window: int) -> float:  # fmt: skip
    """The factor s in [0, 1] of the network's correction c (model - base) that minimises the latitude-weighted
    squared error of base + s c on the windows at `starts`: s = <truth - base, c> / <c, c>, clipped. `model` may be
    an `InterpolatorEnsemble` (c: the mean of its members' corrections)."""
    base_model = copy.deepcopy(model)
    scale_correction(base_model, 0.0)  # the correction is the output layer's (linear): zeroing it leaves the base
    filled, truth = hidden_fields(model, data, normaliser, starts, window)
    base, _ = hidden_fields(base_model, data, normaliser, starts, window)
    weights = np.broadcast_to(lat_weights(data.lat)[:, None], truth.shape[-2:])
    correction, residual = filled - base, truth - base
    ok = np.isfinite(correction) & np.isfinite(residual)
    den = float(np.where(ok, weights * correction**2, 0).sum())
    if den == 0:
        return 0.0
    return float(np.clip(np.where(ok, weights * correction * residual, 0).sum() / den, 0.0, 1.0))


def scale_correction(model: torch.nn.Module, factor: float) -> None:
    """Multiply the network's correction by `factor` in place (its output layer is linear and the base does not
    pass through it), so the exported weights carry the shrink; each member's, for an ensemble (the members share
    the base, so the ensemble's correction, their mean, is scaled by `factor` too)."""
    with torch.no_grad():
        for member in getattr(model, "members", [model]):
            member.decoder_pred.weight.mul_(factor)
            member.decoder_pred.bias.mul_(factor)


def run_interpolation_cv(
    dataset: str | Path,
    out: str | Path,
    budget: CVBudget,
    arch: dict[str, int],
    window: int,
    context: int,
    protocol: Protocol = ERA5,
    correction: str = "additive",
    members: int = 1,
) -> InterpCVResult:
    """Every fold of `protocol`: baselines, hfm's base (radius and kind), `members` networks (seeds `budget.seed`,
    +1, ...; each its own checkpoint), their ensemble's shrink, as the module docstring says; each member exported to
    `out/fold<k>/member<j>/model` with a card naming the fold's periods and choices. `correction`: how the network
    corrects its base (`models.InterpolatingMAE`: added, or as weights on its inputs)."""
    from hfm.climate.experiments.end_to_end import evaluate_interpolation
    from hfm.climate.models import InterpolatorEnsemble

    dataset, out = Path(dataset), Path(out)
    full = FieldData.load(dataset)
    p = protocol
    result = InterpCVResult()
    times = full.times.values
    for fold in blocked_folds(full.hours.size, p.folds, p.test_steps, p.gap_steps, p.valid_steps):
        data = full.with_training(fold.train)
        normaliser = Normaliser(data)
        valid = gap_windows(data, fold.valid, window, context, whole=True)  # as the task's validation windows
        test = gap_windows(data, fold.test, window, context)
        radius, base, base_scores = choose_base(data, valid, window, context)
        options = {"dataset": str(dataset), "window": window, "mode": "interpolation", "climatology_channel": True,
                   "context": context, "base": base, "radius": radius, "train_ranges": mask_to_ranges(fold.train),
                   "valid_ranges": mask_to_ranges(fold.valid), "correction": correction, **arch}  # fmt: skip

        def score(model: torch.nn.Module, data: FieldData = data, normaliser: Normaliser = normaliser,
                  valid: np.ndarray = valid) -> float:  # fmt: skip
            return evaluate_interpolation(model, data, normaliser, window, valid)["hfm"]

        folder = out / f"fold{fold.index}"
        trained = [train_selected(options, folder / f"member{j}", replace(budget, seed=budget.seed + j), score,
                                  task_name="climate-mae") for j in range(members)]  # fmt: skip
        ensemble = InterpolatorEnsemble([model for model, _ in trained])
        chosen = [selection["chosen_step"] for _, selection in trained]
        ensemble_valid = score(ensemble)
        shrink = shrink_factor(ensemble, data, normaliser, valid, window) if any(chosen) else 0.0
        scale_correction(ensemble, shrink)
        choices = {"radius": radius, "base": base, "radius_valid_rmse": base_scores["radius"],
                   "base_valid_rmse": base_scores["base"], "members": members, "chosen_steps": chosen,
                   "ensemble_valid_rmse": ensemble_valid, "shrink": shrink,
                   "shrunk_valid_rmse": score(ensemble)}  # fmt: skip
        info = fold.describe(times) | {"valid_windows": int(valid.size), "test_windows": int(test.size)}
        size = 2 * radius + 1
        kind = "per-point" if base == "pointwise" else "pooled"
        for j, (model, selection) in enumerate(trained):
            description = (f"temporal interpolation of 6 h gaps, cross-validation fold {fold.index}, member {j} of "
                           f"{members} (the fold's interpolator is the mean of its members' fillings): a correction "
                           f"to the {kind} least-squares linear interpolator of anomalies (neighbourhood {size} x "
                           f"{size}; radius and kind chosen on validation), checkpoint chosen and the members' mean "
                           f"correction shrunk on validation")  # fmt: skip
            export_selected(model, folder / f"member{j}", options, selection | choices,
                            info, replace(budget, seed=budget.seed + j), f"climate-interpolator-fold{fold.index}",
                            description, "validation RMSE (K) of the hidden steps")  # fmt: skip
        scores = evaluate_interpolation(ensemble, data, normaliser, window, test, pointwise=True)["per_window"]
        if "fitted_neighbourhood" not in scores:  # radius 0: the pooled base is the pooled interpolator itself
            scores["fitted_neighbourhood"] = scores["fitted_anomaly"]
        for name, values in scores.items():
            result.losses.setdefault(name, []).extend(np.asarray(values, float).tolist())
        result.fold += [fold.index] * test.size
        result.folds.append(info | choices | {"valid_rmse_by_step": [sel["valid_rmse_by_step"] for _, sel in trained]})
    return result
