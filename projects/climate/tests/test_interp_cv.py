"""The cross-validated interpolation protocol (`experiments.interp_cv`) on a small crop of the real ERA5 month."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from hfm.climate.experiments.end_to_end import ERA5_OWNER


@pytest.fixture(scope="module")
def era5_crop(era5_grib, tmp_path_factory):
    from hfm.climate.curate import curate_fields
    from hfm.climate.experiments.end_to_end import crop_fields

    tmp = tmp_path_factory.mktemp("interp-cv")
    source = crop_fields(era5_grib, tmp / "crop.nc", {"lat": slice(0, 8), "lon": slice(0, 12)})
    curate_fields([source], tmp / "data", ERA5_OWNER, train_end="2019-03-24", show_progress=False)
    return tmp / "data"


ARCH = {"patch_lat": 4, "patch_lon": 4, "width": 16, "depth": 1, "heads": 2}


def _model(radius: int = 1, correction: str = "additive", seed: int = 3) -> torch.nn.Module:
    from hfm.shared.models.registry import create_model

    torch.manual_seed(seed)
    model = create_model("climate-interpolator", climatology_channel=True, window=9, context=1, radius=radius,
                         correction=correction, **ARCH).eval()  # fmt: skip
    torch.nn.init.normal_(model.decoder_pred.weight, std=0.2)  # a non-zero correction, as after training
    return model


@pytest.mark.parametrize("correction", ["additive", "weights"])
def test_scaled_correction_is_the_base_plus_a_fraction_of_it(correction):
    from hfm.climate.experiments.interp_cv import scale_correction

    model = _model(correction=correction)
    model.base_weights.copy_(torch.randn_like(model.base_weights))
    x = torch.randn(2, 9, 2, 8, 12)
    mask = model.hidden_mask(tuple(x.shape[1:]), 2)
    full = model.reconstruct(x, model(x, mask))
    base = model.base(x)
    assert (full - base)[:, 2:7, 0].abs().mean() > 0.01  # the correction is there before the shrink
    scale_correction(model, 0.25)
    shrunk = model.reconstruct(x, model(x, mask))
    hidden = (slice(None), slice(2, 7), 0)  # the field's hidden steps; seen steps and the forcing pass through
    torch.testing.assert_close(shrunk[hidden], (base + 0.25 * (full - base))[hidden], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(shrunk[:, :, 1], x[:, :, 1])


@pytest.mark.parametrize("members", [1, 2])
def test_shrink_factor_minimises_the_validation_error(era5_crop, members):
    from hfm.climate.data import FieldData, Normaliser
    from hfm.climate.experiments.interp_cv import hidden_fields, scale_correction, shrink_factor
    from hfm.climate.metrics import lat_weights
    from hfm.climate.models import InterpolatorEnsemble

    def build() -> torch.nn.Module:  # one model, or an ensemble whose correction is its members' mean
        models = [_model(radius=0, seed=3 + j) for j in range(members)]
        return models[0] if members == 1 else InterpolatorEnsemble(models)

    data = FieldData.load(era5_crop)
    normaliser = Normaliser(data)
    model = build()
    starts = np.arange(480, 560, 4)
    s = shrink_factor(model, data, normaliser, starts, 9)
    assert 0.0 < s < 1.0  # this random correction partly helps: an interior optimum, not a clip

    def sse(factor: float) -> float:
        m = build()
        scale_correction(m, factor)
        filled, truth = hidden_fields(m, data, normaliser, starts, 9)
        w = np.broadcast_to(lat_weights(data.lat)[:, None], truth.shape[-2:])
        return float(np.nansum(w * (filled - truth) ** 2))

    errors = {f: sse(f) for f in (0.0, 0.25, 0.5, 0.75, 1.0)}
    assert sse(s) <= min(errors.values()) + 1e-6 * sse(0.0)


def test_cross_validated_interpolation_refits_everything_per_fold(era5_crop, tmp_path):
    from hfm.climate.baselines.interpolation import fit_gap_weights, fit_pointwise_weights
    from hfm.climate.data import FieldData, window_starts
    from hfm.climate.experiments.crossval import ERA5, CVBudget
    from hfm.climate.experiments.folds import blocked_folds
    from hfm.climate.experiments.interp_cv import CORRECTION, RADII, gap_windows, run_interpolation_cv
    from hfm.shared.artifacts import load_pretrained

    protocol = replace(ERA5, folds=2)
    budget = CVBudget(steps=4, eval_every=2, width=16, depth=1, heads=2, batch_size=4, lr=1e-3, weight_decay=0.01)
    result = run_interpolation_cv(era5_crop, tmp_path / "cv", budget, ARCH, 9, 1, protocol, CORRECTION, members=2)
    full = FieldData.load(era5_crop)
    folds = blocked_folds(744, 2, 144, 24, 48)
    # hidden hours start + 2 .. start + 6 in the 144 test hours: fold 0 (hours 0-143) has no seen hours before its
    # first two, so starts 0-137; fold 1 (hours 600-743) none after its last two, so starts 598-735
    assert [f["test_windows"] for f in result.folds] == [138, 138]
    assert result.fold == [0] * 138 + [1] * 138 and len(result.losses["hfm"]) == 276
    assert [f["valid_windows"] for f in result.folds] == [40, 40]  # 9 h windows wholly inside 2 validation days
    for info, fold in zip(result.folds, folds, strict=True):
        assert info["members"] == 2 and len(info["chosen_steps"]) == 2
        for chosen, scores in zip(info["chosen_steps"], info["valid_rmse_by_step"], strict=True):
            assert set(scores) == {0, 2, 4} and scores[chosen] == min(scores.values())
        assert 0.0 <= info["shrink"] <= 1.0 and (any(info["chosen_steps"]) or info["shrink"] == 0.0)
        assert info["shrunk_valid_rmse"] <= info["ensemble_valid_rmse"] + 1e-6
        assert info["radius"] in RADII and info["base"] in ("fitted", "pointwise")
        bases = info["base_valid_rmse"]  # the kind of base with the lower validation RMSE, at the chosen radius
        assert info["base"] == min(bases, key=bases.get)
        assert bases["fitted"] == info["radius_valid_rmse"][info["radius"]]
        data = full.with_training(fold.train)
        train = window_starts(data, 9, "train")
        assert not fold.test[train[:, None] + np.arange(9)].any()
        weights = fit_gap_weights(data.anomalies(), train, 9, 1, info["radius"])
        if info["base"] == "pointwise":
            weights = fit_pointwise_weights(data.anomalies(), train, 9, 1, info["radius"], weights)
        for j in range(2):
            folder = tmp_path / "cv" / f"fold{fold.index}" / f"member{j}" / "model"
            card = json.loads((folder / "model_card.json").read_text())
            selection, task = card["training"]["selection"], card["training"]["task"]
            radius_scores = {int(k): v for k, v in selection["radius_valid_rmse"].items()}
            assert min(radius_scores, key=radius_scores.get) == info["radius"] == task["radius"]
            assert task["base"] == info["base"] and task["correction"] == CORRECTION  # the benchmark's correction
            assert card["training"]["budget"]["seed"] == j and selection["chosen_step"] == info["chosen_steps"][j]
            # the base travels with the weights, fitted on the fold's training days only (never its test block)
            model, _ = load_pretrained(folder)
            np.testing.assert_allclose(model.base_weights.numpy(), weights, rtol=1e-4, atol=1e-5)
        assert gap_windows(data, fold.test, 9, 1).size == info["test_windows"]
    losses = {k: np.asarray(v) for k, v in result.losses.items()}
    assert losses["fitted_anomaly"].mean() < losses["cubic_anomaly"].mean() < losses["linear_anomaly"].mean()
    assert losses["linear_anomaly"].mean() < losses["linear"].mean()
    for k, info in enumerate(result.folds):  # an untouched base (shrink 0) is its baseline to the digit
        mine = np.asarray(result.fold) == k
        own = "fitted_pointwise" if info["base"] == "pointwise" else "fitted_neighbourhood"
        gap = np.abs(losses["hfm"][mine] - losses[own][mine]).max()
        assert (gap < 1e-5) if info["shrink"] == 0 else (gap > 1e-7)
