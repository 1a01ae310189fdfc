"""Cross-validated forecast skill: every fold refits everything on its own training period, hfm included.

Per fold (`folds.blocked_folds`): climatology, normalisation and damping are fitted on the fold's training steps;
the baselines are persistence, climatology, damped anomaly persistence and a stronger statistical model (an
EOF-truncated linear inverse model for monthly SST, a neighbourhood ridge autoregression for hourly fields), whose
truncation or penalty is chosen on the fold's validation block. hfm is trained with the shared trainer on the
training steps, a checkpoint every `eval_every` steps, and the checkpoint (step 0, the untrained head, included)
with the lowest validation RMSE is exported with a model card naming the fold and the chosen step. Every method's
loss is the latitude-weighted RMSE of each single forecast, so the pooled score is WeatherBench 2's RMSE and the
per-forecast losses pair up for the interval (`hfm.shared.eval.stats.moving_block_bootstrap` over folds).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file

from hfm.climate.baselines import LinearInverseModel, NeighbourhoodRidge, fit_damping, ridge_inits
from hfm.climate.data import FieldData, Normaliser
from hfm.climate.experiments.folds import Fold, blocked_folds, mask_to_ranges
from hfm.climate.metrics import lat_weights
from hfm.climate.predict import load_model, model_forecaster, write_forecast
from hfm.shared.artifacts import DataCardReference, ModelCard, export_model
from hfm.shared.train.config import Config, ValidationConfig
from hfm.shared.train.task import build_task
from hfm.shared.train.trainer import Trainer

LIM_MODES = (4, 8, 12, 16, 24, 32)
RIDGE_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0)


@dataclass(frozen=True)
class Protocol:
    """The folds and the leads of one dataset. `leads` maps each scored lead (steps) to the model's base lead
    (a larger scored lead is reached by rollout); `block` is the bootstrap block in steps."""

    folds: int
    test_steps: int
    gap_steps: int
    valid_steps: int
    leads: dict[int, int]
    block: int
    patch: tuple[int, int]
    strong: str  # "lim" or "ridge"
    history: int = 2
    spacing: int = 1  # steps between history frames (the ridge sees the same frames as hfm)

    def lags(self) -> tuple[int, ...]:
        return tuple(k * self.spacing for k in range(self.history))


HADISST = Protocol(folds=8, test_steps=45, gap_steps=12, valid_steps=24, leads={1: 1, 3: 1}, block=6,
                   patch=(2, 3), strong="lim")  # fmt: skip
ERA5 = Protocol(folds=4, test_steps=144, gap_steps=24, valid_steps=48, leads={1: 1, 6: 6}, block=48,
                patch=(4, 4), strong="ridge", history=3)  # fmt: skip


@dataclass
class CVBudget:
    steps: int = 150
    eval_every: int = 25
    pretrain_steps: int = 0
    batch_size: int = 16
    width: int = 32
    depth: int = 2
    heads: int = 4
    lr: float = 5e-4
    weight_decay: float = 0.1
    base: str = "strong"  # the linear forecast hfm corrects: "strong" (LIM / ridge), "damped" or "persistence"
    seed: int = 0
    progress: bool = False


@dataclass
class LeadScores:
    """Per-forecast losses of every method at one lead, in time order over the folds."""

    losses: dict[str, list[float]] = field(default_factory=dict)
    fold: list[int] = field(default_factory=list)
    init: list[int] = field(default_factory=list)

    def add(self, k: int, init: np.ndarray, losses: dict[str, np.ndarray]) -> None:
        self.fold += [k] * init.size
        self.init += init.tolist()
        for name, values in losses.items():
            self.losses.setdefault(name, []).extend(np.asarray(values, float).tolist())


def forecast_rmse(forecast: np.ndarray, truth: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Latitude-weighted RMSE of each forecast (N, V, H, W) -> (N,), averaged over variables; NaN cells left out."""
    weights = np.broadcast_to(lat_weights(lat)[:, None], truth.shape[-2:])
    error2 = (np.asarray(forecast, np.float64) - truth) ** 2
    valid = np.isfinite(error2)
    mse = np.where(valid, error2 * weights, 0).sum(axis=(-2, -1)) / np.where(valid, weights, 0).sum(axis=(-2, -1))
    return np.sqrt(mse).reshape(mse.shape[0], -1).mean(axis=1)


class FoldBaselines:
    """Every baseline of one fold, fitted on its training steps, the strong one tuned on its validation block."""

    def __init__(self, data: FieldData, fold: Fold, protocol: Protocol) -> None:
        self.data, self.fold, self.protocol = data, fold, protocol
        self.anomalies = data.anomalies()
        self.clim = data.climatology.at(data.times)
        self.choice: dict[int, Any] = {}
        self._fitted: dict[int, Callable[[np.ndarray], np.ndarray]] = {}

    def forecasts(self, lead: int, init: np.ndarray) -> dict[str, np.ndarray]:
        d, a = self.data, self.anomalies
        r = fit_damping(a, lead, d.pairs(lead, "train"))
        clim = self.clim[init + lead]
        out = {
            "persistence": d.fields[init],
            "climatology": clim,
            "damped_persistence": clim + r * a[init],
        }
        for name in self.strong_names():
            out[name] = clim + self._strong(name, lead)(init)
        return out

    def strong_names(self) -> tuple[str, ...]:
        return ("lim", "lim_damped_residual") if self.protocol.strong == "lim" else ("ridge_ar",)

    def chosen(self, lead: int) -> Any:
        """The truncation (modes) or penalty of the strongest statistical model, the one hfm corrects: the LIM with
        a damped residual, or the ridge; chosen on validation."""
        name = self.strong_names()[-1]
        self._strong(name, lead)
        return self.choice[(name, lead)]["chosen"]

    def _strong(self, name: str, lead: int) -> Callable[[np.ndarray], np.ndarray]:
        """A strong baseline's anomaly forecast, its truncation/penalty chosen on the validation block."""
        if (name, lead) in self._fitted:
            return self._fitted[(name, lead)]
        d, a = self.data, self.anomalies
        valid = d.pairs_into(lead, self.fold.valid)
        truth = d.fields[valid + lead]
        candidates: dict[Any, Callable[[np.ndarray], np.ndarray]] = {}
        if name.startswith("lim"):
            pairs = d.pairs(1, "train")
            for modes in LIM_MODES:
                lim = LinearInverseModel(a, d.lat, pairs, modes, residual_damping=name == "lim_damped_residual")
                candidates[modes] = lambda init, lim=lim: lim.forecast(a[init], lead)
        else:
            lags = self.protocol.lags()
            inits = ridge_inits(d.is_train, d.pairs(lead, "train"), lags)
            for alpha in RIDGE_ALPHAS:
                ridge = NeighbourhoodRidge(a, inits, lead, lags, alpha)
                candidates[alpha] = lambda init, ridge=ridge: ridge.forecast(a, init)
        scores = {
            key: float(forecast_rmse(self.clim[valid + lead] + f(valid), truth, d.lat).mean())
            for key, f in candidates.items()
        }
        best = min(scores, key=scores.get)
        self.choice[(name, lead)] = {"chosen": best, "valid_rmse": scores}
        self._fitted[(name, lead)] = candidates[best]
        return candidates[best]


def train_selected(
    options: dict[str, Any],
    out: Path,
    budget: CVBudget,
    score: Callable[[torch.nn.Module], float],
    task_name: str = "climate-forecast",
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Train with the shared trainer's model selection (`validation.every`, the task's validation RMSE on the
    fold's validation block; the best step's weights in `run/final`). Step 0, the untrained head (the linear base
    itself), is compared by `score`, the same RMSE: the model never does worse than its base on validation."""
    run = out / "run"
    if run.exists():
        shutil.rmtree(run)  # a left-over run would be resumed
    config = Config.short_run(
        run, task_name, options, steps=budget.steps, batch_size=budget.batch_size, lr=budget.lr,
        seed=budget.seed, progress=budget.progress, weight_decay=budget.weight_decay,
        warmup_steps=min(20, budget.steps // 10),
        validation=ValidationConfig(every=budget.eval_every, metric="rmse", mode="min"),
    )  # fmt: skip
    task = build_task(task_name, options)
    torch.manual_seed(budget.seed)
    initial = task.build_model().eval()
    trainer = Trainer(config, task)
    trainer.fit()
    selection = json.loads((run / "selection.json").read_text())
    model = trainer.raw_model.eval()
    model.load_state_dict(load_file(str(run / "final" / "model.safetensors")))
    scores = {0: score(initial)} | {int(h["step"]): float(h["rmse"]) for h in selection["history"]}
    trained = score(model)
    if scores[0] <= trained:
        model, chosen = initial, 0
    else:
        chosen = int(selection["best_step"])
    return model, {"chosen_step": chosen, "valid_rmse_by_step": scores, "trainer_selection": selection["best_step"]}


def _validation_score(
    data: FieldData, normaliser: Normaliser, base: int, valid: np.ndarray
) -> Callable[[torch.nn.Module], float]:
    def score(model: torch.nn.Module) -> float:
        forecast = model_forecaster(model, data, normaliser, base)(None, valid, base)
        return float(forecast_rmse(forecast, data.fields[valid + base], data.lat).mean())

    return score


def export_selected(
    model: torch.nn.Module,
    out: Path,
    options: dict,
    selection: dict,
    split: dict,
    budget: CVBudget,
    name: str,
    description: str,
    metric: str = "validation RMSE (K) at the base lead",
) -> Path:
    """Export a model trained by `train_selected` to `out/model`; its card records the split (`fold`: training,
    validation and test periods), the validation RMSE of every checkpoint and the chosen step."""
    card = ModelCard(
        name=name,
        description=description,
        intended_use="research: skill on held-out blocks of the curated dataset's grid",
        limitations="trained briefly on one small grid and one training period; inputs are standardised "
        "anomalies against that period's climatology",
        data=[DataCardReference.from_dataset(options["dataset"])],
        training={
            "task": options,
            "fold": split,
            "selection": {"metric": metric, **selection},
            "budget": asdict(budget),
        },
        metrics={"valid_rmse": float(selection["valid_rmse_by_step"][selection["chosen_step"]])},
    )
    return export_model(model, out / "model", {"task": options}, card)


def _export(
    model: torch.nn.Module, out: Path, options: dict, selection: dict, fold_info: dict, budget: CVBudget
) -> Path:
    name = f"climate-forecaster-{Path(options['dataset']).name}-fold{fold_info['fold']}"
    description = (
        f"forecaster of one cross-validation fold: a learned correction to its linear base "
        f"({options.get('base', 'persistence')}), the checkpoint chosen on the fold's validation block"
    )
    return export_selected(model, out, options, selection, fold_info, budget, name, description)


def run_cv(
    dataset: str | Path, out: str | Path, protocol: Protocol, budget: CVBudget, rescore: bool = False
) -> dict[str, Any]:
    """All folds: {leads: {lead: LeadScores}, folds: [...], selection: [...], choices: [...]}. With `rescore`, the
    fold models already exported under `out` are scored again (baselines refitted, nothing trained)."""
    dataset, out = Path(dataset), Path(out)
    full = FieldData.load(dataset)
    p = protocol
    folds = blocked_folds(full.hours.size, p.folds, p.test_steps, p.gap_steps, p.valid_steps)
    leads = {lead: LeadScores() for lead in protocol.leads}
    times = full.times.values
    result: dict[str, Any] = {"leads": leads, "folds": [], "selection": [], "choices": [], "fold_masks": folds}
    result["times"] = times
    for fold in folds:
        data = full.with_training(fold.train)
        normaliser = Normaliser(data)
        info = fold.describe(times)
        result["folds"].append(info)
        baselines = FoldBaselines(data, fold, protocol)
        models = {}
        for base in sorted(set(protocol.leads.values())):
            options = {
                "dataset": str(dataset),
                "history": protocol.history,
                "spacing": protocol.spacing,
                "lead": base,
                "patch_lat": protocol.patch[0],
                "patch_lon": protocol.patch[1],
                "width": budget.width,
                "depth": budget.depth,
                "heads": budget.heads,
                "train_ranges": mask_to_ranges(fold.train),
                "valid_ranges": mask_to_ranges(fold.valid),
            }
            if budget.base == "strong":
                key = "base_modes" if protocol.strong == "lim" else "base_alpha"
                options |= {"base": protocol.strong, key: baselines.chosen(base)}
            else:
                options["base"] = budget.base
            score = _validation_score(data, normaliser, base, data.pairs_into(base, fold.valid))
            folder = out / f"fold{fold.index}" / f"forecast-{base}"
            if rescore:
                model = load_model(folder / "model")
                selection = json.loads((folder / "model" / "model_card.json").read_text())["training"]["selection"]
            else:
                model, selection = train_selected(options, folder, budget, score)
                _export(model, folder, options, selection, info, budget)
                test_init = data.pairs_into(base, fold.test)
                write_forecast(model, data, normaliser, base, test_init, 1, folder / "forecast-test.nc")
            models[base] = model
            result["selection"].append(
                {"fold": fold.index, "base_lead": base, "model": str(folder / "model"), "options": options, **selection}
            )
        for lead, base in protocol.leads.items():
            init = data.pairs_into(lead, fold.test)
            truth = data.fields[init + lead]
            forecasts = baselines.forecasts(lead, init)
            forecasts["hfm"] = model_forecaster(models[base], data, normaliser, base)(None, init, lead)
            leads[lead].add(fold.index, init, {k: forecast_rmse(f, truth, data.lat) for k, f in forecasts.items()})
        result["choices"].append({"fold": fold.index, **{f"{n} {k}": v for (n, k), v in baselines.choice.items()}})
    return result
