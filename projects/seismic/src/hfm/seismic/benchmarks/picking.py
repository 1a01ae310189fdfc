"""The seismic picking benchmark on real analyst picks: hfm against PhaseNetLight and the classic pickers, one run.

1. Curate the real data with `hfm seismic curate`'s functions: DFDP (Nordic S-files + WAV, the TEST set, never
   trained on), PhaseNet's NCEDC windows (split by station into train / dev), the continuous day-long records, the
   OBS record and ObsPy's test waveforms (unlabelled windows).
2. Pretrain the MAE on real unlabelled waveforms only (`pretrain_corpus`): continuous windows, the DFDP event
   traces, the NCEDC train windows with their picks dropped, the IPOC traces, the OBS record, ObsPy's waveforms.
3. Fine-tune the picker on crops of the NCEDC train windows, from the pretrained encoder and from scratch with the
   same labels and steps.
4. Tune every threshold on the NCEDC dev stations, then score every method on DFDP (`metrics.picks`): 3-component
   and vertical-only; IPOC iasp91 onsets as a consistency check; Tohoku as a note. The hfm pickers' onset rules
   (which peak, what AIC refinement: `hfm.seismic.baselines.onset`) are chosen on the dev stations too; PhaseNetLight is
   reported as it comes and with its own dev-chosen onset rule, a peer treated alike.
5. Label efficiency: 10/25/50/100% of the NCEDC train windows, pretrained vs scratch, several seeds, paired.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from hfm.seismic.baselines.classic_pickers import ArPicker, BaerPicker, StaLtaAic, grid_settings
from hfm.seismic.baselines.onset import (
    CANDIDATES,
    RULES,
    PickRule,
    Refinement,
    choose_rule,
    record_picks,
    tune_record_picks,
    window_onset,
)
from hfm.seismic.benchmarks import COMMAND
from hfm.seismic.benchmarks.recipe import finetune_picker, view
from hfm.seismic.curate import curate_items
from hfm.seismic.data.records import Records, band_pass, detection_windows, load_records, pick_windows
from hfm.seismic.data.windows import LabelledWindows
from hfm.seismic.metrics.picks import (
    HIT_TOLERANCES_S,
    MATCH_S,
    MethodScores,
    auc_statistic,
    bootstrap_statistic,
    f1_statistic,
    match_counts,
    prf,
)
from hfm.seismic.models import PickerEnsemble
from hfm.seismic.predict import _taper
from hfm.seismic.readers.continuous import ContinuousConfig, continuous_curation_items
from hfm.seismic.readers.nordic import nordic_curation_items
from hfm.seismic.readers.phasenet_npz import npz_curation_items
from hfm.seismic.tasks import OnsetOptions
from hfm.seismic.training import pretrain_onset, pretrain_windows
from hfm.shared.catalogue.entries import load_catalogue
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import mean_confidence_interval, paired_bootstrap
from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.parallel import parallel_map, torch_threads
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shortcuts import RunSettings

HFM = "hfm picker (pretrained)"
SCRATCH = "hfm picker (scratch)"
RULED = " + onset rule (dev)"  # a peer scored with the onset rule chosen for it on dev, as hfm is


@dataclass
class PickBenchConfig:
    window: int = 3000  # 30 s at 100 Hz: the model input, PhaseNetLight's too
    crops_per_record: int = 8
    continuous_windows: int = 96  # per continuous record
    # Sized for the bench budget (docs/seismic-experiments.md: each benchmark run's timings; the MAE-scale pass
    # refused 1600 steps on dev and left 6400, past the budget, a diagnostic).
    pretrain_steps: int = 400
    # Issue 14: 400 fine-tuning steps. 800 had been chosen by a rule that summed four dev metrics; under the rule of
    # docs/seismic-experiments.md (no dev metric may fall, detection scored) 800 is refused: dev S F1 -0.139
    # [-0.256, -0.023], dev detection ROC-AUC -0.139 [-0.209, -0.070] (5 seeds, from scratch); so are the 400- and
    # 800-step states of one 800-step run chosen per output (detection -0.080 [-0.106, -0.054]). Pretrained and
    # scratch alike.
    finetune_steps: int = 400
    # Label efficiency: small batches, many updates. After 60 steps of 16 the pickers had not yet learned to place P
    # (NCEDC dev P hit 0.2 s 0.05 at 10% labels, seed 0); 480 steps of 4 (the compute of 120 of 16) reach 0.45
    # pretrained, 0.425 scratch (docs/seismic-experiments.md, "a dev criterion for networks whose sensors differ").
    efficiency_steps: int = 480
    efficiency_batch_size: int = 4
    fractions: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)
    efficiency_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    batch_size: int = 16
    lr: float = 1e-3
    pretrain_on_test_waveforms: bool = True  # the corpus includes the DFDP traces, unlabelled
    n_resamples: int = 1000
    seed: int = 0
    smoke: bool = False
    # A band-pass front end for every neural picker (hfm and PhaseNetLight alike, training and inference); None: raw
    # counts, as PhaseNetLight was trained. The classic pickers filter 1-20 Hz themselves either way.
    model_band_hz: tuple[float, float] | None = None
    # The hfm picker's tokenizer scaling and component augmentation (pretraining and fine-tuning alike; issue 14:
    # chosen on the NCEDC dev stations under the sensor conditions, `benchmarks.robustness`,
    # docs/seismic-experiments.md).
    normalization: str = "component"
    horizontal_dropout: float = 0.3
    horizontal_noise: float = 0.5
    # Issue 14: the hfm pickers' onset rule per phase (earliest strong peak or maximum, then an AIC search) and the
    # refinement of their record picks, chosen on the dev stations (`hfm.seismic.baselines.onset`); False: the
    # probability maximum and plain peaks, as SeisBench scores a picker.
    onset_rules: bool = True
    # Width of the Gaussian P/S targets the picker is fine-tuned on (pretrained, scratch and label efficiency alike;
    # issue 14: the candidates 0.1 and 0.2 s compared on the NCEDC dev stations, docs/seismic-experiments.md).
    sigma_s: float = 0.1
    # Issue 14: the picker's dilated sample-rate refiner (`models.DilatedRefiner`), for every hfm picker (pretrained,
    # scratch, label efficiency), chosen by the dev rule (`benchmarks.devrule`, 5 seeds from scratch on the NCEDC dev
    # stations, docs/seismic-experiments.md): depth 6 (+-1.26 s) against none: sum +1.098 [+0.975, +1.221] (P F1 +0.255,
    # S F1 +0.181, detection -0.033 [-0.084, +0.019]); depth 8 (+-5.1 s) against depth 6: sum +0.151 [+0.045, +0.257],
    # detection +0.058 [+0.018, +0.097]. 0: the one 9-tap convolution only.
    refiner_depth: int = 8
    # The label-efficiency pickers (40 runs) carry the depth-8 refiner too, pretrained and scratch alike: h52/h53
    # (docs/seismic-experiments.md) judged the onset pretraining's few-label gain with it, and without it the
    # benchmark would score a configuration dev never measured. At one thread a 480-step run takes 19-23 s with it
    # against 6-8 s without (~2.8x, h51); `efficiency_workers` runs them side by side to keep the bench near an hour.
    efficiency_refiner_depth: int = 8
    # Processes for every pool of the benchmark (pretrainings, fine-tunings, scoring, the 40 label-efficiency runs;
    # None: one per CPU this process may use; the name is older than the pools); each job is at one thread in any
    # process, so the figures do not depend on it.
    efficiency_workers: int | None = None
    # Issue 14: what the hfm picker is pretrained with. "onset" (adopted 12-05 from h52/h53): the whole picker,
    # refiner included, trained for `onset_pretrain_steps` on the onset-carrying targets
    # (`hfm.seismic.training.pretrain_onset`) and loaded whole for fine-tuning. h53 (docs/seismic-experiments.md,
    # pre-registered, fresh seeds, NCEDC dev) measured onset - scratch with the depth-8 refiner at 10% labels +0.196
    # [+0.098, +0.293] and 25% +0.246 [+0.160, +0.331] (n = 10), and with all labels onset - MAE-400 +0.185 [+0.080,
    # +0.291] (n = 5, detection level). "mae": the masked autoencoder for `pretrain_steps`, its encoder loaded (the
    # benchmark up to the whole run of 9626f63).
    pretrain_objective: Literal["mae", "onset"] = "onset"
    onset_pretrain_steps: int = 1600
    # Issue 14 (h57, docs/seismic-experiments.md, NCEDC dev): the main comparison's hfm pickers are ensembles
    # (`models.PickerEnsemble`) of `ensemble_size` pickers; member k is pretrained and fine-tuned with seed `seed + k`
    # (member 0 is the single picker of earlier runs), and the scratch picker is an ensemble of as many scratch
    # pickers fine-tuned with the same seeds, so the two arms stay alike. Members from three pretraining files
    # against the mean of their single pickers: sum +0.124 [+0.071, +0.176] (n = 5 groups; P hit and S hit 0.2 s up,
    # nothing falls), an ensemble of three scratch pickers ties it (-0.032 [-0.097, +0.032]). From one file the members
    # hardly differ and their ensemble ties one picker (h56). The label-efficiency pickers stay single; the i-th
    # seed's pretrained picker starts from member (i mod ensemble_size)'s file, so the few-label figure averages over
    # pretraining draws as h53 measured it on dev (member 0's file alone in the partial run of c281b26).
    ensemble_size: int = 3

    def __post_init__(self) -> None:
        if self.ensemble_size < 1:
            raise HFMError(f"PickBenchConfig: ensemble_size {self.ensemble_size}: at least one picker")
        if self.pretrain_objective not in ("mae", "onset"):
            raise HFMError(f"PickBenchConfig: pretrain_objective {self.pretrain_objective!r}: 'mae' or 'onset'")
        if self.pretrain_objective == "onset" and self.normalization != "component":
            raise HFMError(
                f"PickBenchConfig: normalization {self.normalization!r} with pretrain_objective 'onset': the onset "
                "pretraining scales its input per component, so the pickers fine-tuned from it need 'component'"
            )

    def settings(self, steps: int, seed: int | None = None) -> RunSettings:
        """How one training run of the bench goes: `steps` of its batch at its lr, with its seed or `seed`."""
        return RunSettings(steps, self.batch_size, self.lr, self.seed if seed is None else seed, progress=False)

    def onset_options(self) -> OnsetOptions:
        """The onset pretraining of the picker this config fine-tunes: its refiner and component augmentation."""
        return OnsetOptions(
            refiner_depth=self.refiner_depth,
            horizontal_dropout=self.horizontal_dropout,
            horizontal_noise=self.horizontal_noise,
        )

    def model_options(self) -> dict[str, Any]:
        return {
            "normalization": self.normalization,
            "horizontal_dropout": self.horizontal_dropout,
            "horizontal_noise": self.horizontal_noise,
        }

    @classmethod
    def quick(cls) -> PickBenchConfig:
        return cls(
            crops_per_record=2,
            continuous_windows=4,
            pretrain_steps=5,
            onset_pretrain_steps=5,
            finetune_steps=5,
            efficiency_steps=3,
            fractions=(0.25, 1.0),
            efficiency_seeds=(0, 1),
            efficiency_workers=1,
            ensemble_size=2,
            n_resamples=50,
            smoke=True,
        )


# --- data -------------------------------------------------------------------------------------------------------


# The catalogued sources the benchmark curates: their cards carry the catalogue's licence (not an assumed "MIT" on
# the GPL-3.0-only OBS record).
CATALOGUED = ("dfdp-eqcorrscan", "phasenet-ncedc", "continuous", "obs-miniseed")


def curate_all(out: Path, config: PickBenchConfig, show_progress: bool = False) -> dict[str, Any]:
    """Curate every source into `out/<name>` with the package's curation; returns the summaries' lines."""
    dfdp = require_data("seismic/dfdp-eqcorrscan")
    ncedc = require_data("seismic/phasenet-ncedc") / "dataset"
    licence = {name: load_catalogue().get(f"seismic/{name}").licence for name in CATALOGUED}  # the owners' own
    jobs = {  # name: (items, licence, creators of the data as the catalogue cites them)
        "dfdp": (
            nordic_curation_items(dfdp / "REA" / "TEST_", dfdp / "WAV" / "TEST_"),
            licence["dfdp-eqcorrscan"],
            "EQcorrscan",
        ),
        "ncedc": (npz_curation_items(ncedc), licence["phasenet-ncedc"], "NCEDC / AI4EPS PhaseNet"),
    }
    stride = 30.0 if config.smoke else 60.0
    for name, catalogued, creator in (("continuous", "continuous", "NoisePy"), ("obs", "obs-miniseed", "SeisBench")):
        try:
            folder = require_data(f"seismic/{catalogued}")
        except DataUnavailable:
            continue
        cont = ContinuousConfig(window_s=config.window / 100, stride_s=stride, max_windows=config.continuous_windows)
        jobs[name] = (continuous_curation_items(folder, cont), licence[catalogued], creator)
    for name, folder in obspy_waveform_folders().items():
        cont = ContinuousConfig(window_s=config.window / 100, stride_s=config.window / 100, max_windows=4)
        jobs[name] = (continuous_curation_items(folder, cont), "LGPL-3.0-only", "ObsPy")
    lines = {}
    for name, (items, licence, creator) in jobs.items():
        describe = DatasetDescription(f"bench-{name}", licence, [creator], f"{name} for the seismic picking benchmark")
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # ObsPy's test files are full of deliberately odd records
            summary = curate_items(
                items, out / name, 100.0, describe, {"window": config.window}, show_progress=show_progress
            ).summary
        lines[name] = summary.line()
    return lines


OBSPY_FOLDERS = ("io/mseed", "io/seisan", "io/gse2", "io/sh", "clients/fdsn")


def obspy_waveform_folders() -> dict[str, Path]:
    """ObsPy's own test waveforms (real recordings of many networks, 1-500 Hz), which ship with the package; files
    that are not waveforms (XML, text) are quarantined as unreadable, records below 10 Hz as `sampling_rate`."""
    import obspy

    root = Path(obspy.__file__).parent
    folders = {f"obspy-{name.split('/')[-1]}": root / name / "tests" / "data" for name in OBSPY_FOLDERS}
    return {name: folder for name, folder in folders.items() if folder.is_dir()}


def window_stack(records: Records, samples: int) -> np.ndarray:
    """Non-overlapping windows of `samples` from every record (picks dropped), each demeaned and scaled to unit
    standard deviation in float64 (raw counts of some ObsPy test files overflow float32 arithmetic); windows that
    are flat or not finite are left out."""
    out = []
    for wave in records.waveforms:
        for start in range(0, wave.shape[-1] - samples + 1, samples):
            window = wave[:, start : start + samples].astype(np.float64)
            window -= window.mean(axis=-1, keepdims=True)
            scale = window.std()
            if np.isfinite(scale) and scale > 0:
                out.append((window / scale).astype(np.float32))
    return np.stack(out) if out else np.zeros((0, 3, samples), np.float32)


def pretrain_corpus(
    data: Path, ncedc_train: Records, dfdp: Records, config: PickBenchConfig
) -> tuple[np.ndarray, dict]:
    """Real unlabelled windows from every source, and how many each gave."""
    from hfm.seismic.data.reference import dummy_windows

    parts: dict[str, np.ndarray] = {}
    for name in ("continuous", "obs", *obspy_waveform_folders()):
        if (data / name / "metadata.csv").is_file():
            parts[name] = window_stack(load_records(data / name), config.window)
    parts["ncedc train (picks dropped)"] = window_stack(ncedc_train, config.window)
    if config.pretrain_on_test_waveforms:
        parts["dfdp event traces (no picks)"] = window_stack(dfdp, config.window)
    try:
        # 20 Hz, band-limited onto the 100 Hz grid; the test split stays out (it is the consistency check)
        ipoc = dummy_windows(require_data("seismic/seisbench-dummy"), split="train")
        parts["ipoc seisbench-dummy"] = np.stack(
            [
                w[:, s : s + config.window]
                for w in ipoc.waveforms
                for s in range(0, w.shape[-1] - config.window + 1, config.window)
            ]
        )
    except DataUnavailable:
        pass
    corpus = np.concatenate([p for p in parts.values() if len(p)])
    return corpus, {k: len(v) for k, v in parts.items()}


# --- methods ----------------------------------------------------------------------------------------------------


def sliding_probabilities(predict, wave: np.ndarray, window: int, overlap: float = 0.5, batch: int = 32) -> np.ndarray:
    """(3, N) -> (3, N) P/S/noise probabilities stitched from overlapping windows with a centre-weighted taper."""
    length = wave.shape[-1]
    step = max(1, int(window * (1 - overlap)))
    starts = list(range(0, max(length - window, 0) + 1, step))
    if starts[-1] + window < length:
        starts.append(length - window)
    padded = np.zeros((3, max(length, window)), np.float32)
    padded[:, :length] = wave
    total, weight = np.zeros((3, padded.shape[-1])), np.zeros(padded.shape[-1])
    taper = _taper(window) if len(starts) > 1 else np.ones(window)
    for first in range(0, len(starts), batch):
        chunk = starts[first : first + batch]
        probs = predict(np.stack([padded[:, s : s + window] for s in chunk]))
        for s, p in zip(chunk, probs, strict=True):
            total[:, s : s + window] += p * taper
            weight[s : s + window] += taper
    return (total / weight)[:, :length]


def hfm_predictor(model: torch.nn.Module):
    model.eval()

    @torch.no_grad()
    def predict(batch: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(np.ascontiguousarray(batch))).narrow(1, 0, 3).softmax(dim=1).numpy()

    return predict


def batched(predict, windows: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate([predict(windows[i : i + batch]) for i in range(0, len(windows), batch)])


def score_model(
    name: str,
    predict,
    dev: Records,
    test: Records,
    config: PickBenchConfig,
    windows: dict[str, Any],
    onset_rules: bool = False,
) -> MethodScores:
    """Thresholds on dev whole records, then residuals, record picks and detection scores on test. With
    `onset_rules`, each phase's onset rule in a window (`onset.choose_rule`, on the dev pick windows) and the
    refinement of the record picks (`onset.tune_record_picks`, with the threshold) are chosen on dev as well;
    without, the onset is the probability maximum and the picks are the peaks (SeisBench's rule)."""
    rate, scores = test.sampling_rate, MethodScores(name)
    dev_probs = [sliding_probabilities(predict, w, config.window) for w in dev.waveforms]
    test_probs = [sliding_probabilities(predict, w, config.window) for w in test.waveforms]
    rules, refinements = (RULES, CANDIDATES) if onset_rules else ((PickRule(),), (Refinement.none(),))
    for row, phase in enumerate(("P", "S")):
        threshold, refinement, scores.dev_f1[phase] = tune_record_picks(
            dev_probs, dev.waveforms, dev.onsets(phase), row, rate, phase, refinements
        )
        scores.thresholds[phase] = threshold
        rule = rules[0]
        if len(rules) > 1:
            dev_windows = pick_windows(dev, phase, config.window, config.seed)
            dev_window_probs = batched(predict, dev_windows.waveforms)[:, row]
            rule, _ = choose_rule(dev_window_probs, dev_windows.waveforms, dev_windows.onset, rate, phase, rules)
        scores.rules[phase] = {"window onset": rule.name, "record picks": refinement.name}
        scores.counts[phase] = np.array(
            [
                match_counts(record_picks(p[row], w, rate, phase, threshold, refinement), onset, MATCH_S * rate)
                for p, w, onset in zip(test_probs, test.waveforms, test.onsets(phase), strict=True)
            ]
        )
        pw = windows[phase]
        probs = batched(predict, pw.waveforms)[:, row]
        onsets = np.array([window_onset(p, w, rate, phase, rule) for p, w in zip(probs, pw.waveforms, strict=True)])
        scores.residuals[phase] = (onsets - pw.onset) / rate
    det_windows, _, _ = windows["detection"]
    scores.detection = 1.0 - batched(predict, det_windows)[:, 2].min(axis=-1)
    return scores


def score_classic(picker, dev: Records, test: Records, windows: dict[str, Any]) -> MethodScores:
    """The grid setting with the best dev F1 (summed over its phases), then the same measurements on test."""
    rate = test.sampling_rate

    def record_f1(p, records: Records) -> float:
        picks = [p.record_picks(w, rate) for w in records.waveforms]
        return sum(
            prf(
                np.array(
                    [match_counts(pk[ph], o, MATCH_S * rate) for pk, o in zip(picks, records.onsets(ph), strict=True)]
                )
            )[2]
            for ph in p.phases
        )

    best = max(grid_settings(picker), key=lambda p: record_f1(p, dev))
    scores = MethodScores(best.name, thresholds={k: getattr(best, k) for k in best.grid})
    scores.dev_f1["sum over phases"] = record_f1(best, dev)
    picks = [best.record_picks(w, rate) for w in test.waveforms]
    for phase in best.phases:
        scores.counts[phase] = np.array(
            [match_counts(pk[phase], o, MATCH_S * rate) for pk, o in zip(picks, test.onsets(phase), strict=True)]
        )
        pw = windows[phase]
        onsets = np.array([best.window_onsets(w, rate)[phase] for w in pw.waveforms])
        scores.residuals[phase] = (onsets - pw.onset) / rate
    if hasattr(best, "detection_score"):
        scores.detection = np.array([best.detection_score(w, rate) for w in windows["detection"][0]])
    return scores


def evaluation_windows(test: Records, config: PickBenchConfig) -> dict[str, Any]:
    return {
        "P": pick_windows(test, "P", config.window, config.seed),
        "S": pick_windows(test, "S", config.window, config.seed),
        "detection": detection_windows(test, config.window, config.seed),
    }


# --- figures ----------------------------------------------------------------------------------------------------

METRICS = [  # (phase-less key suffix, higher is better, kind, tolerance)
    ("F1", True, "F1", 0.0),
    *[(f"hit {t:g} s", True, "hit", t) for t in HIT_TOLERANCES_S],
    ("MAE (s)", False, "MAE", 0.0),
    ("RMSE (s)", False, "RMSE", 0.0),
]


def _interval_for(kind: str, tol: float, a: MethodScores, b: MethodScores, phase: str, test: Records, windows, n: int):
    if kind == "F1":
        counts = np.vstack([a.counts[phase], b.counts[phase]])
        size = len(a.counts[phase])
        return (
            paired_bootstrap(
                np.arange(size), np.arange(size) + size, f1_statistic(counts), clusters=test.event_id, n_resamples=n
            ),
            size,
            "records",
        )
    clusters = windows[phase].event_id
    stat = bootstrap_statistic(kind, tol)
    return (
        paired_bootstrap(a.residuals[phase], b.residuals[phase], stat, clusters=clusters, n_resamples=n),
        len(clusters),
        "analyst picks",
    )


def figures_from(
    results: list[MethodScores],
    hfm_name: str,
    test: Records,
    windows: dict[str, Any],
    task_suffix: str = "",
    n_resamples: int = 1000,
    reference: str = "measurement",
    notes: str = "",
) -> list[Figure]:
    """One Figure per (phase, metric) and one for detection: hfm against the strongest baseline, others listed."""
    by = {r.name: r for r in results}
    hfm = by[hfm_name]
    summaries = {r.name: r.summary(windows["detection"][1]) for r in results}
    out = []
    method = f"paired bootstrap over events (clusters = event id), {n_resamples} resamples"
    for phase in ("P", "S"):
        for metric, higher, kind, tol in METRICS:
            key = f"{phase} {metric}"
            value = summaries[hfm_name].get(key)
            rivals = {n: s[key] for n, s in summaries.items() if n != hfm_name and s.get(key) is not None}
            if value is None or not rivals:
                continue
            best = (max if higher else min)(rivals, key=rivals.get)
            (_diff, low, high), n_test, unit = _interval_for(
                kind, tol, hfm, by[best], phase, test, windows, n_resamples
            )
            out.append(
                Figure(
                    name=f"seismic DFDP{task_suffix}: {key}, hfm vs {best}",
                    task=f"seismic/{phase} picking{task_suffix}",
                    metric=metric,
                    higher_is_better=higher,
                    value=float(value),
                    baseline=float(rivals[best]),
                    baseline_name=best,
                    n_test=n_test,
                    test_unit=unit,
                    interval=(low, high),
                    interval_method=method,
                    unit="s" if "(s)" in metric else "",
                    command=COMMAND,
                    reference=reference,
                    headline=kind in ("F1",) or (kind == "hit" and tol == 0.2),
                    others={n: float(v) for n, v in rivals.items() if n != best},
                    goal="hfm >= PhaseNetLight and > every classic picker" if kind in ("F1", "hit") else "",
                    notes=notes,
                )
            )
    det_key = "detection ROC-AUC"
    rivals = {n: s[det_key] for n, s in summaries.items() if n != hfm_name and s.get(det_key) is not None}
    if rivals and summaries[hfm_name].get(det_key) is not None:
        best = max(rivals, key=rivals.get)
        _det, is_event, owner = windows["detection"]
        scores = np.concatenate([hfm.detection, by[best].detection])
        m = len(is_event)
        _, low, high = paired_bootstrap(
            np.arange(m),
            np.arange(m) + m,
            auc_statistic(is_event, scores),
            clusters=test.event_id[owner],
            n_resamples=n_resamples,
        )
        out.append(
            Figure(
                name=f"seismic DFDP{task_suffix}: detection ROC-AUC, hfm vs {best}",
                task=f"seismic/detection{task_suffix}",
                metric="ROC-AUC",
                higher_is_better=True,
                value=summaries[hfm_name][det_key],
                baseline=rivals[best],
                baseline_name=best,
                n_test=m,
                test_unit="windows (event and noise)",
                interval=(low, high),
                interval_method=method,
                command=COMMAND,
                reference=reference,
                others={n: float(v) for n, v in rivals.items() if n != best},
                notes=notes,
            )
        )
    return out


# --- the run ----------------------------------------------------------------------------------------------------


Table = dict[str, dict[str, Any]]  # method (and "_n", the counts) -> metric -> value


@dataclass
class PickBenchReport:
    """What benchmark.json holds besides the figures, in this order. Tables are keyed by test set ("DFDP",
    "DFDP (Z only)"); thresholds and dev F1 are each method's settings chosen on the NCEDC dev stations."""

    config: dict[str, Any]  # the PickBenchConfig as a dict
    curation: dict[str, Any]  # source name -> its curation summary
    corpus: dict[str, int]  # pretraining windows per source and in total
    tables: dict[str, Table] = field(default_factory=dict)
    thresholds: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # set -> method -> setting
    dev_f1: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # set -> method -> phase F1
    onset_rules: dict[str, dict[str, dict[str, dict[str, str]]]] = field(default_factory=dict)  # set -> method -> phase
    efficiency: list[dict[str, Any]] = field(default_factory=list)  # one row per fraction, seed and start
    efficiency_summary: list[dict[str, Any]] = field(default_factory=list)  # one entry per label fraction
    consistency: dict[str, dict[str, float]] = field(default_factory=dict)  # check -> method -> value
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # stage -> seconds


def label_subset(records: Records, fraction: float, seed: int) -> Records:
    """A seeded fraction of the training records (at least two), drawn by record."""
    count = max(2, math.ceil(fraction * len(records)))
    rng = np.random.default_rng(1000 + seed)
    return records.subset(np.sort(rng.permutation(len(records))[:count]))


def run_pick_benchmark(
    out_dir: str | Path, config: PickBenchConfig | None = None
) -> tuple[PickBenchReport, list[Figure]]:
    config = config or PickBenchConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 1)
        clock = now

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # reading ObsPy's deliberately odd test records warns about each
        curation = curate_all(out / "data", config)
    test = load_records(out / "data" / "dfdp")
    train = load_records(out / "data" / "ncedc", split="train")
    dev = load_records(out / "data" / "ncedc", split="dev")
    if config.smoke:
        test = test.subset(np.arange(min(24, len(test))))
        dev = dev.subset(np.arange(min(8, len(dev))))
    lap("curate")
    band = config.model_band_hz
    corpus, corpus_counts = pretrain_corpus(out / "data", train, test, config)
    if band:
        corpus = band_pass(corpus, 100.0, band)
    members = range(config.ensemble_size)
    suffixes = ["", *(f"-member{k}" for k in members[1:])]  # member 0's runs in `pretrain`, `finetune`, `scratch`
    inits = [str(out / f"pretrain{suffix}" / "final") for suffix in suffixes]
    labelled = view(train, config)

    def pretraining(k: int) -> tuple:
        return pretrain_member, (corpus, out / f"pretrain{suffixes[k]}", replace(config, seed=config.seed + k))

    def fine_tuning(k: int, name: str, init: str | None) -> tuple:
        settings = config.settings(config.finetune_steps, config.seed + k)
        return finetune_member, (labelled, out / f"{name}{suffixes[k]}", settings, config, init)

    report = PickBenchReport(asdict(config), curation, {**corpus_counts, "total windows": len(corpus)})
    if config.ensemble_size > 1:
        report.notes.append(
            f"{HFM} and {SCRATCH}: each an ensemble of {config.ensemble_size} pickers (mean probabilities), member k "
            "pretrained and fine-tuned with seed k; label efficiency: single pickers, the i-th seed's pretrained "
            f"picker from member (i mod {config.ensemble_size})'s pretraining"
        )
    try:
        from hfm.seismic.baselines.peers import PhaseNetLightPeer

        peer = PhaseNetLightPeer(require_data("seismic/peers"))
    except HFMError as error:  # DataUnavailable is an HFMError
        peer = None
        report.notes.append(f"PhaseNetLight not run: {error}")
    test_sets = [
        EvaluationSet("", test, dev, config),
        EvaluationSet(" (Z only)", test.vertical_only(), dev.vertical_only(), config),
    ]
    ruled = config.onset_rules

    # The work in three pools, each job at one thread in whichever process runs it (so the figures do not depend on
    # the schedule), and each pool after what it needs: (1) every pretraining, the scratch fine-tunings and the
    # scores of the pickers that are not fine-tuned here (PhaseNetLight, the classic ones); (2) the pretrained
    # fine-tunings; (3) the hfm pickers' scores.
    fixed = [(scored, (test_set, spec)) for test_set in test_sets for spec in test_set.fixed_methods(peer, ruled)]
    first = parallel_map(
        run_job,
        [pretraining(k) for k in members] + [fine_tuning(k, "scratch", None) for k in members] + fixed,
        config.efficiency_workers,
    )
    scratch = ensemble(first[len(members) : 2 * len(members)])
    fixed_scores = first[2 * len(members) :]
    lap("pretrain + scratch + fixed scores")
    tuned = parallel_map(run_job, [fine_tuning(k, "finetune", inits[k]) for k in members], config.efficiency_workers)
    hfm = ensemble(tuned)
    lap("finetune")
    learned = [
        (scored, (test_set, ("model", name, model, ruled)))
        for test_set in test_sets
        for name, model in ((HFM, hfm), (SCRATCH, scratch))
        if test_set.label == "" or name == HFM  # the scratch ablation on 3 components only (Z would double the cost)
    ]
    learned_scores = parallel_map(run_job, learned, config.efficiency_workers)
    figures: list[Figure] = []
    for test_set in test_sets:
        mine = [r for (_, (t, _)), r in zip(learned, learned_scores, strict=True) if t is test_set]
        theirs = [r for (_, (t, _)), r in zip(fixed, fixed_scores, strict=True) if t is test_set]
        results = mine + theirs  # hfm, scratch, the peer (as it comes, with the onset rule), the classic pickers
        key, windows, records = f"DFDP{test_set.label}", test_set.windows, test_set.records
        report.tables[key] = {r.name: r.summary(windows["detection"][1]) for r in results}
        report.thresholds[key] = {r.name: r.thresholds for r in results}
        report.dev_f1[key] = {r.name: r.dev_f1 for r in results}
        report.onset_rules[key] = {r.name: r.rules for r in results if r.rules}
        report.tables[key]["_n"] = {
            "records": len(records),
            "events": len(set(records.event_id)),
            "P picks": len(windows["P"].onset),
            "S picks": len(windows["S"].onset),
            "detection windows": len(windows["detection"][1]),
        }
        figures += figures_from(results, HFM, records, windows, test_set.label, config.n_resamples)
    lap("evaluate")

    figures += consistency_figures(hfm, peer, config, report)
    lap("consistency")
    write_atomic(out / "benchmark.md", markdown(report, figures))  # the picking figures before label efficiency
    efficiency(train, inits, out, config, report)
    figures += efficiency_figures(report)
    lap("label efficiency")
    report.timings = timings
    write_atomic(out / "benchmark.json", dump_json(asdict(report) | {"figures": [f.as_dict() for f in figures]}))
    write_atomic(out / "benchmark.md", markdown(report, figures))
    return report, figures


def run_job(job: tuple) -> Any:
    """One job of a pool that mixes kinds of work: (module-level function, its one argument)."""
    function, argument = job
    return function(argument)


@dataclass
class EvaluationSet:
    """One way of scoring on DFDP: the 3-component records (label "") or their Z channel alone (" (Z only)"), with
    the NCEDC dev records the thresholds are chosen on. The classic pickers see the records as they are, the neural
    ones `view` of them (band-passed where configured); the windows sit at the same places."""

    label: str
    records: Records
    dev: Records
    config: PickBenchConfig
    windows: dict[str, Any] = field(init=False)
    model_records: Records = field(init=False)
    model_dev: Records = field(init=False)
    model_windows: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.windows = evaluation_windows(self.records, self.config)
        self.model_records, self.model_dev = view(self.records, self.config), view(self.dev, self.config)
        self.model_windows = evaluation_windows(self.model_records, self.config)

    def fixed_methods(self, peer, ruled: bool) -> list[tuple]:
        """The methods not fine-tuned here, in the report's order: PhaseNetLight as it comes and, with `ruled`, with
        the dev-chosen onset rule beside it (as hfm has it), then the classic pickers (`ar_pick` on 3 components)."""
        specs: list[tuple] = []
        if peer is not None:
            specs.append(("model", peer.name, peer, False))
            if ruled:
                specs.append(("model", peer.name + RULED, peer, True))
        pickers = [StaLtaAic(), BaerPicker()] + ([ArPicker()] if not self.label else [])
        return specs + [("classic", picker) for picker in pickers]

    def score(self, spec: tuple) -> MethodScores:
        """("classic", picker) or ("model", name, hfm picker or peer, with the dev-chosen onset rules or not)."""
        if spec[0] == "classic":
            return score_classic(spec[1], self.dev, self.records, self.windows)
        _, name, source, ruled = spec
        predict = hfm_predictor(source) if isinstance(source, torch.nn.Module) else source.predict
        return score_model(name, predict, self.model_dev, self.model_records, self.config, self.model_windows, ruled)


def scored(job: tuple) -> MethodScores:
    """One method scored on one test set at one thread, whichever process runs it."""
    test_set, spec = job
    with torch_threads(1):
        return test_set.score(spec)


def pretrain_picker(corpus: np.ndarray, out: Path, config: PickBenchConfig) -> None:
    """The hfm picker's pretraining on the unlabelled corpus with `config.pretrain_objective`; weights in out/final."""
    if config.pretrain_objective == "onset":
        pretrain_onset(corpus, out, config.settings(config.onset_pretrain_steps), config.onset_options())
        return
    unlabelled = LabelledWindows(corpus, np.full(len(corpus), np.nan), np.full(len(corpus), np.nan), 100.0, "corpus")
    settings = config.settings(config.pretrain_steps)
    pretrain_windows(unlabelled, out, settings, samples=config.window, **config.model_options())


def ensemble(pickers: list[torch.nn.Module]) -> torch.nn.Module:
    return pickers[0] if len(pickers) == 1 else PickerEnsemble(pickers)


def pretrain_member(job: tuple) -> None:
    """One ensemble member's pretraining (member 0's too) at one thread, whichever process runs it (as
    `efficiency_run`)."""
    corpus, out, config = job
    with torch_threads(1):
        pretrain_picker(corpus, out, config)


def finetune_member(job: tuple) -> torch.nn.Module:
    """One ensemble member's fine-tuning (`finetune_picker`), pretrained or scratch, at one thread, whichever process
    runs it (the benchmark runs all of them side by side)."""
    records, run, settings, config, init = job
    with torch_threads(1):
        return finetune_picker(records, run, settings, config, init).eval()


def consistency_figures(model, peer, config: PickBenchConfig, report: PickBenchReport) -> list[Figure]:
    """IPOC (seisbench-dummy) test traces with iasp91 onsets: theoretical times, so a consistency check only."""
    from hfm.seismic.data.reference import dummy_windows, tohoku_window

    try:
        ipoc = dummy_windows(require_data("seismic/seisbench-dummy"), split="test")
    except DataUnavailable as error:
        report.notes.append(str(error))
        return []
    waves = band_pass(ipoc.waveforms, 100.0, config.model_band_hz) if config.model_band_hz else ipoc.waveforms
    records = Records(
        list(waves), ipoc.p_sample, ipoc.s_sample, np.array([f"ipoc{i}" for i in range(len(ipoc))]),
        np.array(["CX.PB01"] * len(ipoc)), np.array(["ZNE"] * len(ipoc)), 100.0, "ipoc",
    )  # fmt: skip
    windows = {"P": pick_windows(records, "P", config.window, config.seed)}
    residuals = {
        HFM: (batched(hfm_predictor(model), windows["P"].waveforms)[:, 0].argmax(-1) - windows["P"].onset) / 100
    }
    stalta = StaLtaAic()
    residuals[stalta.name] = (
        np.array([stalta.window_onsets(w, 100.0)["P"] for w in windows["P"].waveforms]) - windows["P"].onset
    ) / 100
    if peer is not None:
        residuals[peer.name] = (
            batched(peer.predict, windows["P"].waveforms)[:, 0].argmax(-1) - windows["P"].onset
        ) / 100
    mae = {k: bootstrap_statistic("MAE")(v, None) for k, v in residuals.items()}
    report.consistency["IPOC iasp91 P MAE (s)"] = mae
    tohoku = tohoku_window(samples=config.window)
    tohoku_waves = (
        band_pass(tohoku.waveforms, 100.0, config.model_band_hz) if config.model_band_hz else tohoku.waveforms
    )
    p_hat = hfm_predictor(model)(tohoku_waves)[0, 0].argmax()
    report.notes.append(
        "Tohoku II.TLY (one analyst P, teleseismic, vertical only): "
        f"hfm P residual {(p_hat - tohoku.p_sample[0]) / 100:+.2f} s"
    )
    rivals = {k: v for k, v in mae.items() if k != HFM}
    best = min(rivals, key=rivals.get)
    _, low, high = paired_bootstrap(
        residuals[HFM], residuals[best], bootstrap_statistic("MAE"), n_resamples=config.n_resamples
    )
    return [
        Figure(
            name=f"seismic IPOC (iasp91 onsets): P MAE, hfm vs {best}",
            task="seismic/P picking (IPOC)",
            metric="MAE (s)",
            higher_is_better=False,
            value=mae[HFM],
            baseline=mae[best],
            baseline_name=best,
            n_test=len(residuals[HFM]),
            test_unit="traces",
            interval=(low, high),
            interval_method=f"paired bootstrap over traces, {config.n_resamples} resamples",
            unit="s",
            command=COMMAND,
            reference="consistency check",
            others={k: float(v) for k, v in rivals.items() if k != best},
            notes="iasp91 onsets are theoretical: a 1-D model misses real arrivals by a second or more",
        )
    ]


EFFICIENCY_METRICS = ("P hit 0.2 s", "S hit 0.2 s", "P MAE (s)", "S MAE (s)")


def efficiency(train: Records, inits: list[str], out: Path, config: PickBenchConfig, report: PickBenchReport) -> None:
    """Pretrained vs scratch on the same label subset and seed; scored on the DFDP pick windows (3 components).
    The i-th seed's pretrained picker starts from pretraining file i mod len(inits), so the few-label figure averages
    over pretraining draws (as h53 judged the onset pretraining on dev) instead of resting on one file."""
    test = load_records(out / "data" / "dfdp")
    if config.model_band_hz:
        test, train = test.band_passed(config.model_band_hz), train.band_passed(config.model_band_hz)
    windows = {p: pick_windows(test, p, config.window, config.seed) for p in ("P", "S")}
    small_batches = replace(
        config, batch_size=config.efficiency_batch_size, refiner_depth=config.efficiency_refiner_depth
    )
    jobs = [
        (label_subset(train, fraction, seed), fraction, seed, start, weights, out, small_batches, windows)
        for fraction in config.fractions
        for i, seed in enumerate(config.efficiency_seeds)
        for start, weights in (("pretrained", inits[i % len(inits)]), ("scratch", None))
    ]
    rows = parallel_map(efficiency_run, jobs, config.efficiency_workers)
    report.efficiency = rows
    summary = []
    for fraction in config.fractions:
        pre = [r for r in rows if r["fraction"] == fraction and r["start"] == "pretrained"]
        scr = [r for r in rows if r["fraction"] == fraction and r["start"] == "scratch"]
        entry = {"fraction": fraction, "records": pre[0]["records"], "seeds": len(pre)}
        for metric in EFFICIENCY_METRICS:
            a, b = np.array([r[metric] for r in pre]), np.array([r[metric] for r in scr])
            entry[metric] = {
                "pretrained": mean_confidence_interval(a),
                "scratch": mean_confidence_interval(b),
                "difference": mean_confidence_interval(a - b),
            }
        summary.append(entry)
    report.efficiency_summary = summary


def efficiency_run(job: tuple) -> dict[str, Any]:
    """One label-efficiency picker (one subset, seed and start) fine-tuned and scored at one thread, whichever
    process runs it, so the rows do not depend on `efficiency_workers`."""
    subset, fraction, seed, start, weights, out, config, windows = job
    with torch_threads(1):
        run = out / "efficiency" / f"{start}-{fraction:g}-seed{seed}"
        settings = config.settings(config.efficiency_steps, config.seed + seed)
        predict = hfm_predictor(finetune_picker(subset, run, settings, config, weights))
        row = {"fraction": fraction, "records": len(subset), "seed": seed, "start": start}
        if weights is not None:
            row["pretraining"] = Path(weights).parent.name  # which member's pretraining file it started from
        for phase, index in (("P", 0), ("S", 1)):
            pw = windows[phase]
            res = (batched(predict, pw.waveforms)[:, index].argmax(-1) - pw.onset) / 100
            row[f"{phase} hit 0.2 s"] = bootstrap_statistic("hit", 0.2)(res, None)
            row[f"{phase} MAE (s)"] = bootstrap_statistic("MAE")(res, None)
        return row


def efficiency_figures(report: PickBenchReport) -> list[Figure]:
    out = []
    for entry in report.efficiency_summary:
        for metric in ("P hit 0.2 s", "S hit 0.2 s"):
            stats = entry[metric]
            _, low, high = stats["difference"]
            out.append(
                Figure(
                    name=f"seismic label efficiency {entry['fraction']:.0%} ({entry['records']} windows): {metric}, "
                    "pretrained vs scratch",
                    task="seismic/label efficiency",
                    metric=metric,
                    higher_is_better=True,
                    value=stats["pretrained"][0],
                    baseline=stats["scratch"][0],
                    baseline_name="hfm picker (scratch)",
                    n_test=entry["seeds"],
                    test_unit="seeds (paired: same labels and seed)",
                    interval=(low, high),
                    interval_method=f"Student-t 95% interval of the per-seed paired difference, {entry['seeds']} seeds",
                    command=COMMAND,
                    goal="pretrained > scratch at 10% and 25%, interval excluding zero"
                    if entry["fraction"] in (0.1, 0.25)
                    else "",
                    notes="scored on the DFDP analyst picks (P and S evaluation windows)",
                )
            )
    return out


# --- report -----------------------------------------------------------------------------------------------------

TABLE_COLUMNS = (
    "P F1", "P precision", "P recall", "P hit 0.1 s", "P hit 0.2 s", "P hit 0.5 s", "P MAE (s)", "P RMSE (s)",
    "S F1", "S precision", "S recall", "S hit 0.1 s", "S hit 0.2 s", "S hit 0.5 s", "S MAE (s)", "S RMSE (s)",
    "detection ROC-AUC",
)  # fmt: skip


def _cell(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"


def markdown(report: PickBenchReport, figures: list[Figure]) -> str:
    """benchmark.md: the tables per method, the figures with intervals, label efficiency, curation and corpus."""
    lines = ["## Phase picking on DFDP analyst picks (SeisBench pick-benchmark metrics)", ""]
    for name, table in report.tables.items():
        counts = table.get("_n", {})
        lines += [f"### {name}: " + ", ".join(f"{v} {k}" for k, v in counts.items()), ""]
        lines += ["| method | " + " | ".join(TABLE_COLUMNS) + " |", "|---" * (len(TABLE_COLUMNS) + 1) + "|"]
        for method, row in table.items():
            if method != "_n":
                lines.append(f"| {method} | " + " | ".join(_cell(row.get(c)) for c in TABLE_COLUMNS) + " |")
        lines.append("")
    lines += ["### Figures (hfm vs its strongest baseline; paired 95% interval of the difference)", ""]
    lines += ["| figure | hfm | baseline | interval | n | outcome |", "|---|---|---|---|---|---|"]
    for f in figures:
        low, high = f.interval
        lines.append(
            f"| {f.name} | {f.value:.3f} | {f.baseline:.3f} | [{low:+.3f}, {high:+.3f}] | {f.n_test} {f.test_unit} | "
            f"{f.outcome} |"
        )
    lines += ["", "### Label efficiency (DFDP pick windows; mean over seeds [95% interval])", ""]
    lines += ["| labels | windows | seeds | metric | pretrained | scratch | paired difference |", "|---" * 7 + "|"]
    for entry in report.efficiency_summary:
        for metric in EFFICIENCY_METRICS:
            stats = entry[metric]
            cells = " | ".join(
                f"{m:.3f} [{lo:.3f}, {hi:.3f}]"
                for m, lo, hi in (stats[k] for k in ("pretrained", "scratch", "difference"))
            )
            lines.append(f"| {entry['fraction']:.0%} | {entry['records']} | {entry['seeds']} | {metric} | {cells} |")
    lines += ["", "### Data", ""]
    lines += [f"- curation {name}: {line}" for name, line in report.curation.items()]
    lines += ["- pretraining corpus (30 s windows): " + ", ".join(f"{k} {v}" for k, v in report.corpus.items())]
    lines += [f"- thresholds chosen on the NCEDC dev stations: {report.thresholds}"]
    lines += [f"- F1 on the NCEDC dev stations at those settings: {report.dev_f1}"]
    lines += [f"- onset rules chosen on the NCEDC dev stations (`hfm.seismic.baselines.onset`): {report.onset_rules}"]
    lines += [f"- IPOC consistency check (iasp91 onsets): {report.consistency}"]
    lines += [f"- {note}" for note in report.notes]
    lines += [f"- timings (s): {report.timings}", ""]
    return "\n".join(lines)
