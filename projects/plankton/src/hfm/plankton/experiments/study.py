"""The multi-instrument study behind the plankton benchmarks: one corpus, two pretrained encoders, five evaluations.

Pretraining never sees an evaluation's test images: each evaluation uses an encoder pretrained on the other
sources only (leave-dataset-out, stricter than leaving out the test fold, and one pretraining instead of 25):

| encoder | pretrained on (unlabelled) | evaluated on |
|---|---|---|
| `without-bering-sea` | WHOI wiki + IFCB bins + FlowCam | Bering Sea (CV, label efficiency, annotation assist) |
| `without-flowcam-whoi` | Bering Sea + IFCB bins | FlowCam (so cross-instrument by construction), WHOI few-shot |

Label efficiency's semi-supervised classifier goes further, as the issue allows: per fold, the leave-dataset-out
encoder continues pretraining on the training fold's own images too (`hfm.plankton.experiments.in_fold`).

Heads and baselines are fitted per fold on the same repeated stratified splits
(`hfm.plankton.experiments.crossval`). The scratch CNN (same network, augmentation and step count as pretraining,
labels only) costs a training per fold, so it runs on the first repeat (5 folds) and is compared there.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from threadpoolctl import threadpool_limits

from hfm.plankton.baselines import pixel_features, pixel_logistic
from hfm.plankton.data.corpus import Corpus, build_corpus
from hfm.plankton.experiments.assist import count_decisions
from hfm.plankton.experiments.crossval import (
    CVResult,
    FoldForests,
    cross_validate,
    fitted_predict,
    hybrid_predict,
    leave_one_out_knn,
    linear_head,
    splits,
)
from hfm.plankton.experiments.dev_splits import stratified_subset
from hfm.plankton.experiments.in_fold import in_fold_encoders, in_fold_rows, weights_digest
from hfm.plankton.experiments.prediction_pages import page_validation_decisions
from hfm.plankton.experiments.semi_supervised import fuse, self_trained_hybrid, unlabelled_rows
from hfm.plankton.models.cnn import (
    EncoderConfig,
    PlanktonCNN,
    encode,
    predict_scratch_cnn,
    pretrain_encoder,
    train_scratch_cnn,
)
from hfm.plankton.models.fixmatch import FixMatchConfig, cnn_probabilities, train_fixmatch_cnn
from hfm.shared.parallel import parallel_map

HFM_LINEAR = "hfm encoder + linear head"
HFM_HYBRID = "hfm hybrid head (embeddings + morphology)"
HFM_FINETUNED = "hfm encoder fine-tuned"
HFM_SEMI = "hfm semi-supervised (FixMatch fine-tuned + self-trained hybrid)"
PIXELS = "pixels + logistic regression"
MORPHOLOGY = "morphology + random forest"
SCRATCH = "small CNN from scratch"
BASELINES = (PIXELS, MORPHOLOGY, SCRATCH)

PRETRAIN_SETS = {
    "without-bering-sea": ("whoi-wiki", "ifcb-bins", "flowcam"),
    "without-flowcam-whoi": ("bering-sea", "ifcb-bins"),
}
EVALUATION_ENCODER = {"bering-sea": "without-bering-sea", "flowcam": "without-flowcam-whoi"}


@dataclass(frozen=True)
class StudyConfig:
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(width=16, steps=300, batch=64))
    scratch_steps: int = 300  # the pretraining's step count
    scratch_batch: int = 32
    repeats: int = 5
    folds: int = 5
    seed: int = 0
    fractions: tuple[float, ...] = (0.1, 0.25, 1.0)


@dataclass
class Study:
    config: StudyConfig
    corpus: Corpus
    embeddings: dict[str, np.ndarray]  # pretraining set -> (N, dim) features of every corpus row
    pretrain_logs: dict[str, dict[str, Any]]
    scratch_predictions: dict[tuple[str, int, float], np.ndarray]  # (source, split, fraction) -> test predictions
    cache: Path  # embeddings and scratch-CNN predictions, keyed by everything they depend on


_STUDIES: dict[tuple, Study] = {}
_LOGGED = ("images", "seconds", "loss_first", "loss_last")


def _single_thread() -> None:
    torch.set_num_threads(1)  # small convolutions: more threads only contend on a shared CPU
    threadpool_limits(1)


def load_study(config: StudyConfig | None = None, cache_dir: str | Path = "benchmarks/plankton/cache") -> Study:
    """The corpus and both encoders' embeddings: pretrained once per process; embeddings cached on disk by config."""
    config = config or StudyConfig()
    key = (str(Path(cache_dir).resolve()), repr(config))
    if key in _STUDIES:
        return _STUDIES[key]
    _single_thread()
    cache = Path(cache_dir)
    corpus = build_corpus(canvas=config.encoder.canvas, cache_dir=cache)
    embeddings, logs = pretrained_embeddings(corpus, config.encoder, cache)
    study = Study(config, corpus, embeddings, logs, {}, cache)
    _STUDIES[key] = study
    return study


def _embeddings_path(corpus_size: int, name: str, config: EncoderConfig, cache: Path) -> Path:
    """The cached features of pretraining set `name` (`.npz`; its encoder weights beside it as `.safetensors`)."""
    stamp = hashlib.sha256(repr((config, PRETRAIN_SETS[name], corpus_size)).encode()).hexdigest()[:12]
    return cache / f"embeddings-{name}-{stamp}.npz"


def _pretrain(job: tuple[np.ndarray, EncoderConfig]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    _single_thread()
    encoder, log = pretrain_encoder(*job)
    return encoder.state_dict(), log


def pretrained_embeddings(
    corpus: Corpus, config: EncoderConfig, cache: Path
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """Features of every corpus row from each encoder of `PRETRAIN_SETS` (pretrained on its sources only); the
    encoders not cached yet are pretrained side by side, one process each."""
    paths = {name: _embeddings_path(len(corpus.table), name, config, cache) for name in PRETRAIN_SETS}
    missing = [
        name for name, path in paths.items() if not (path.is_file() and path.with_suffix(".safetensors").is_file())
    ]
    jobs = [(corpus.canvases[corpus.table["source"].isin(PRETRAIN_SETS[name]).to_numpy()], config) for name in missing]
    for name, (state, log) in zip(missing, parallel_map(_pretrain, jobs), strict=True):
        encoder = PlanktonCNN(config.width)
        encoder.load_state_dict(state)
        paths[name].parent.mkdir(parents=True, exist_ok=True)
        np.savez(paths[name], features=encode(encoder, corpus.canvases), **{k: log[k] for k in _LOGGED})
        save_file(state, paths[name].with_suffix(".safetensors"))  # never pickle: the fine-tuned variant starts here
    embeddings, logs = {}, {}
    for name, path in paths.items():
        saved = np.load(path, allow_pickle=False)
        embeddings[name], logs[name] = saved["features"], {k: float(saved[k]) for k in _LOGGED}
    return embeddings, logs


def pretrained_encoder(study: Study, name: str) -> PlanktonCNN:
    """The encoder behind `study.embeddings[name]`, reloaded from its safetensors weights."""
    path = _embeddings_path(len(study.corpus.table), name, study.config.encoder, study.cache)
    encoder = PlanktonCNN(study.config.encoder.width)
    encoder.load_state_dict(load_file(path.with_suffix(".safetensors")))
    return encoder.eval()


def _cnn_cache(study: Study, source: str, kind: str, fold: int, fraction: float, train, test) -> tuple[tuple, Path]:
    """Where the predictions of one per-fold CNN training live: the in-memory key and the file on disk."""
    key = (f"{kind}:{source}" if kind == "finetune" else source, fold, fraction)
    stamp = hashlib.sha256(repr((study.config, key, train.tolist(), test.tolist())).encode()).hexdigest()[:12]
    return key, study.cache / f"{kind}-{source}-{fold}-{fraction}-{stamp}.npy"


def _train_and_predict(job: tuple) -> np.ndarray:
    """One per-fold CNN training and its test predictions; run in a worker process, single-threaded as in the parent
    (same operations, same seed: the predictions are bit-identical to a serial run)."""
    train_canvases, train_labels, test_canvases, steps, width, batch, seed, init_state = job
    _single_thread()
    init = None
    if init_state is not None:
        init = PlanktonCNN(width)
        init.load_state_dict(init_state)
    model = train_scratch_cnn(train_canvases, train_labels, steps, width, batch, seed, init=init)
    return predict_scratch_cnn(model, test_canvases).astype(str)


def train_cnns(
    study: Study,
    source: str,
    canvases: np.ndarray,
    labels: np.ndarray,
    runs: list[tuple[str, int, float, np.ndarray, np.ndarray]],
) -> None:
    """Train the per-fold CNNs of `runs` (kind, fold, fraction, train rows, test rows) that are not cached yet, one per
    CPU in parallel processes: they are independent, and they are most of the benchmark's time."""
    config = study.config
    missing, init = [], None
    for kind, fold, fraction, train, test in runs:
        key, path = _cnn_cache(study, source, kind, fold, fraction, train, test)
        if key in study.scratch_predictions:
            continue
        if path.is_file():
            study.scratch_predictions[key] = np.load(path, allow_pickle=False)
            continue
        if kind == "finetune" and init is None:  # read once, shared by every fold's fine-tuning
            init = pretrained_encoder(study, EVALUATION_ENCODER[source]).state_dict()
        job = (canvases[train], labels[train], canvases[test], config.scratch_steps, config.encoder.width)
        missing.append((key, path, (*job, config.scratch_batch, fold, init if kind == "finetune" else None)))
    jobs = [job for _, _, job in missing]
    for (key, path, _), predicted in zip(missing, parallel_map(_train_and_predict, jobs), strict=True):
        study.scratch_predictions[key] = predicted
        np.save(path, predicted)


def _fixmatch_probabilities(job: tuple) -> np.ndarray:
    """One FixMatch training (from an encoder's weights, or random ones) and its test probabilities, in a worker."""
    labelled, labels, unlabelled, test, config, width, init_state = job
    _single_thread()
    init = None
    if init_state is not None:
        init = PlanktonCNN(width)
        init.load_state_dict(init_state)
    model, _ = train_fixmatch_cnn(labelled, labels, unlabelled, config, init=init)
    return cnn_probabilities(model, test)


def fixmatch_cnns(
    study: Study,
    source: str,
    canvases: np.ndarray,
    labels: np.ndarray,
    runs: list[tuple[str, int, float, np.ndarray, np.ndarray, np.ndarray, PlanktonCNN | None]],
) -> dict[tuple[str, int, float], np.ndarray]:
    """Test probabilities of a FixMatch training for each run (name, fold, fraction, labelled rows, unlabelled rows,
    test rows, starting encoder or None for random weights), cached on disk by everything they depend on (the
    starting weights by their hash) and trained side by side when missing."""
    config = study.config
    out, missing = {}, []
    for name, fold, fraction, labelled, unlabelled, test, init in runs:
        fixmatch = FixMatchConfig(config.scratch_steps, config.scratch_batch, width=config.encoder.width, seed=fold)
        rows = [a.tolist() for a in (labelled, unlabelled, test)]
        what = (config, fixmatch, source, rows, weights_digest(init))
        if fixmatch.layer_decay != 1.0:  # not in the config's repr (see `FixMatchConfig`)
            what += (fixmatch.layer_decay,)
        stamp = hashlib.sha256(repr(what).encode()).hexdigest()
        path = study.cache / f"fixmatch-{name}-{source}-{fold}-{fraction}-{stamp[:12]}.npy"
        if path.is_file():
            out[name, fold, fraction] = np.load(path, allow_pickle=False)
            continue
        state = None if init is None else init.state_dict()
        job = (canvases[labelled], labels[labelled], canvases[unlabelled], canvases[test], fixmatch)
        missing.append(((name, fold, fraction), path, (*job, config.encoder.width, state)))
    jobs = [job for _, _, job in missing]
    for (key, path, _), probabilities in zip(missing, parallel_map(_fixmatch_probabilities, jobs), strict=True):
        np.save(path, probabilities)
        out[key] = probabilities
    return out


def source_in_fold_encoders(study: Study, source: str, folds: list[tuple[np.ndarray, np.ndarray]]) -> list[PlanktonCNN]:
    """Per fold, the leave-dataset-out encoder of `source` continued on its sources plus that fold's training images
    of `source` (`hfm.plankton.experiments.in_fold`); never a test image."""
    name = EVALUATION_ENCODER[source]
    rows = study.corpus.select(source)
    fold_rows = [in_fold_rows(study.corpus.table, source, PRETRAIN_SETS[name], rows, train) for train, _ in folds]
    base = pretrained_encoder(study, name)
    return in_fold_encoders(
        study.corpus.canvases, fold_rows, base, study.config.encoder, study.cache, source, runner=parallel_map
    )


def _scratch_method(
    study: Study, source: str, canvases: np.ndarray, labels: np.ndarray, fraction: float = 1.0, finetune: bool = False
):
    """The CNN trained per fold on labels: from random weights, or (`finetune`) from the pretrained encoder."""
    kind = "finetune" if finetune else "scratch"

    def method(train: np.ndarray, test: np.ndarray, fold: int) -> np.ndarray:
        train_cnns(study, source, canvases, labels, [(kind, fold, fraction, train, test)])
        return study.scratch_predictions[_cnn_cache(study, source, kind, fold, fraction, train, test)[0]]

    return method


def _labelled(study: Study, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels, frozen features (of the encoder that never saw `source`), morphology and canvases of one source."""
    _single_thread()
    rows = study.corpus.select(source)
    features = study.embeddings[EVALUATION_ENCODER[source]][rows]
    return study.corpus.labels(rows), features, study.corpus.morphology[rows], study.corpus.canvases[rows]


def evaluate_source(study: Study, source: str, scratch: bool = True) -> CVResult:
    """Repeated stratified CV on one labelled source: both hfm heads against every baseline, same folds."""
    labels, features, morphology, canvases = _labelled(study, source)
    config = study.config
    pixels = np.stack([pixel_features(c) for c in canvases])
    forests = FoldForests(morphology, labels, config.seed)
    methods = {
        HFM_LINEAR: fitted_predict(lambda: linear_head(config.seed), features, labels),
        HFM_HYBRID: hybrid_predict(features, forests, labels, config.seed),
        PIXELS: fitted_predict(lambda: pixel_logistic(config.seed), pixels, labels),
        MORPHOLOGY: forests.method(),
    }
    if scratch:
        first_repeat = splits(labels, config.repeats, config.folds, config.seed)[: config.folds]
        runs = [
            (kind, fold, 1.0, train, test)
            for kind in ("scratch", "finetune")
            for fold, (train, test) in enumerate(first_repeat)
        ]
        train_cnns(study, source, canvases, labels, runs)
        methods[SCRATCH] = _scratch_method(study, source, canvases, labels)
        methods[HFM_FINETUNED] = _scratch_method(study, source, canvases, labels, finetune=True)
    return cross_validate(
        labels, methods, config.repeats, config.folds, config.seed, first_repeat_only={SCRATCH, HFM_FINETUNED}
    )


def _subsample(train: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A stratified `fraction` of the training rows, at least two per class (the dev protocol's rule too)."""
    return stratified_subset(train, labels, fraction, seed)


def label_efficiency(study: Study, source: str = "bering-sea") -> dict[str, Any]:
    """macro-F1 of the frozen encoder + linear head, the hybrid head, the fine-tuned encoder and the scratch CNN at
    each label fraction, and below 100 % hfm's semi-supervised classifier (`HFM_SEMI`), its FixMatch CNN alone
    (`fixmatch`) and, at the lowest fraction, the same FixMatch training from random weights (`fixmatch_random`).

    The first repeat's 5 folds give 5 seeds: at each fraction every method trains on the same stratified subset of
    the training fold and is scored on the full test fold; the semi-supervised one also sees the rest of the
    training fold's images without their labels (never the test fold's), and starts from that fold's in-fold
    encoder (`source_in_fold_encoders`: pretraining continued on the training fold's images, labels unused).
    """
    from sklearn.metrics import f1_score

    labels, features, morphology, canvases = _labelled(study, source)
    config = study.config
    folds = splits(labels, config.repeats, config.folds, config.seed)[: config.folds]
    out: dict[str, Any] = {"fractions": list(config.fractions), "n_train": []}
    methods = ("hfm", "hybrid", "finetuned", "scratch", "semi", "fixmatch", "fixmatch_random")
    out |= {name: {} for name in methods}
    hybrid = hybrid_predict(features, FoldForests(morphology, labels, config.seed), labels, config.seed)
    subsets = {
        (f, fold): _subsample(train, labels, f, seed=fold)
        for f in config.fractions
        for fold, (train, _) in enumerate(folds)
    }
    runs = [
        (kind, fold, f, subsets[f, fold], test)
        for f in config.fractions
        for fold, (_, test) in enumerate(folds)
        for kind in ("scratch", "finetune")
    ]
    train_cnns(study, source, canvases, labels, runs)
    pools = {
        (f, fold): unlabelled_rows(train, subsets[f, fold], test)
        for (f, fold), (train, test) in _by_fraction(config.fractions, folds)
    }
    in_fold = source_in_fold_encoders(study, source, folds)
    in_fold_features = [encode(encoder, canvases) for encoder in in_fold]
    low = min(config.fractions)
    semi_runs = [
        (name, fold, f, subsets[f, fold], pools[f, fold], test, init)
        for (f, fold), (_, test) in _by_fraction(config.fractions, folds)
        if f < 1.0
        for name, init in (("in-fold", in_fold[fold]), ("random", None))
        if name == "in-fold" or f == low
    ]
    fixmatch = fixmatch_cnns(study, source, canvases, labels, semi_runs)
    for fraction in config.fractions:
        scores: dict[str, list[float]] = {name: [] for name in methods}
        sizes = []
        for fold, (_, test) in enumerate(folds):
            subset = subsets[fraction, fold]
            sizes.append(len(subset))
            predictions = {
                "hfm": linear_head(config.seed).fit(features[subset], labels[subset]).predict(features[test]),
                "hybrid": hybrid(subset, test, fold),
                "finetuned": _scratch_method(study, source, canvases, labels, fraction, True)(subset, test, fold),
                "scratch": _scratch_method(study, source, canvases, labels, fraction)(subset, test, fold),
            }
            if fraction < 1.0:  # at 100 % there is no unlabelled image left
                classes, hybrid_st, _ = self_trained_hybrid(
                    in_fold_features[fold], morphology, labels, subset, pools[fraction, fold], test, seed=config.seed
                )
                cnn = fixmatch["in-fold", fold, fraction]
                predictions["semi"] = classes[fuse(cnn, hybrid_st).argmax(axis=1)]
                predictions["fixmatch"] = classes[cnn.argmax(axis=1)]
                if ("random", fold, fraction) in fixmatch:
                    predictions["fixmatch_random"] = classes[fixmatch["random", fold, fraction].argmax(axis=1)]
            for name, predicted in predictions.items():
                scores[name].append(float(f1_score(labels[test], predicted, average="macro")))
        for name, values in scores.items():
            if values:
                out[name][fraction] = values
        out["n_train"].append(int(np.mean(sizes)))
    out["n_test"] = round(np.mean([len(t) for _, t in folds]))
    return out


def _by_fraction(fractions, folds):
    """((fraction, fold), (train, test)) for every fraction and fold."""
    return [((f, fold), split) for f in fractions for fold, split in enumerate(folds)]


def few_shot(study: Study, source: str = "whoi-wiki") -> dict[str, np.ndarray]:
    """Leave-one-out 1-NN on the few-shot set: 1/0 per image for hfm embeddings, pixels and morphology."""
    corpus = study.corpus
    rows = corpus.select(source)
    labels = corpus.labels(rows)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    rows, labels = rows[counts[inverse] >= 2], labels[counts[inverse] >= 2]
    return {
        "labels": labels,
        HFM_LINEAR: leave_one_out_knn(study.embeddings["without-flowcam-whoi"][rows], labels),
        PIXELS: leave_one_out_knn(np.stack([pixel_features(c) for c in corpus.canvases[rows]]), labels),
        MORPHOLOGY: leave_one_out_knn(corpus.morphology[rows], labels, metric="euclidean"),
    }


ASSIST_SEEDS = (0, 1, 2, 3, 4)


def _page_decisions(job: tuple) -> int | None:
    embeddings, morphology, labels, target, seed = job
    _single_thread()
    return page_validation_decisions(embeddings, morphology, labels, target=target, seed=seed)


def annotation_assist(study: Study, source: str = "bering-sea", target: float = 0.9) -> dict[str, Any]:
    """Decisions to reach `target` accuracy: validation pages of classifier predictions (hfm's protocol, repeated
    over seeds for an interval) against one by one, one by one + classifier, and bulk validation of k-means
    clusters (k = sqrt(n), seed 0)."""
    rows = study.corpus.select(source)
    labels = study.corpus.labels(rows)
    features = study.embeddings[EVALUATION_ENCODER[source]][rows]
    morphology = study.corpus.morphology[rows]
    result = count_decisions(features, labels, target=target, n_clusters=round(math.sqrt(len(rows))), seed=0)
    # The seed draws the k-means clustering of the seed objects and the forest: the protocol's only chance.
    jobs = [(features, morphology, labels, target, seed) for seed in ASSIST_SEEDS]
    pages = parallel_map(_page_decisions, jobs)
    return {**result.as_dict(), "n": len(rows), "decisions_pages_by_seed": pages, "seeds": list(ASSIST_SEEDS)}
