"""Does pretraining in one science help another? Transfer matrix and joint pretraining over `DomainBench`es.

Every domain's encoder is its own patch embedding in front of the one shared trunk, so the trunk a masked
autoencoder trained on domain A initialises domain B's encoder directly. For each target domain the same probe and
fine-tune run from: a randomly initialised trunk, the trunk pretrained in-domain, the trunks pretrained on every
other domain, and (joint) one trunk pretrained on all domains at once with balanced sampling.

The loops here are plain PyTorch on in-memory tensors: each run lasts seconds and there are sources x targets x
seeds of them, so the accelerate trainer's run folders and checkpoints would cost more than they protect.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from hfm.shared.domain_bench import DomainBench
from hfm.shared.eval.embeddings import embed
from hfm.shared.eval.finetune import finetune
from hfm.shared.eval.probes import linear_probe
from hfm.shared.models.encoder import TokenEncoder
from hfm.shared.models.mae import MAEConfig, MaskedAutoencoder
from hfm.shared.models.trunk import Trunk, TrunkConfig
from hfm.shared.progress import progress_bar

RANDOM = "random init"
JOINT = "joint"


@dataclass
class TransferSettings:
    trunk: TrunkConfig = field(default_factory=lambda: TrunkConfig(width=64, depth=2, heads=4))
    mae: MAEConfig = field(default_factory=lambda: MAEConfig(mask_ratio=0.6, decoder_width=64, decoder_depth=1))
    pretrain_steps: int = 150
    batch_size: int = 32
    lr: float = 1e-3
    finetune_epochs: int = 10
    seeds: Sequence[int] = (0, 1, 2)


@dataclass
class TransferScore:
    source: str
    target: str
    seed: int
    probe: float  # linear probe on frozen embeddings (accuracy or R2)
    finetune: float  # encoder + head trained on the target labels
    metric: str


def _batches(data: torch.Tensor, batch_size: int, generator: torch.Generator):
    while True:
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield data[order[start : start + batch_size]]


def _pretrain(
    models: dict[str, MaskedAutoencoder], benches: dict[str, DomainBench], settings: TransferSettings, seed: int
) -> None:
    """Masked autoencoding; with several domains, one step per domain in turn (balanced sampling)."""
    generator = torch.Generator().manual_seed(seed)
    params = {id(p): p for m in models.values() for p in m.parameters()}  # a shared trunk appears once
    optimizer = torch.optim.AdamW(params.values(), lr=settings.lr, weight_decay=0.05)
    streams = {
        name: _batches(benches[name].unlabelled, min(settings.batch_size, len(benches[name].unlabelled)), generator)
        for name in models
    }
    for model in models.values():
        model.train()
    for _ in range(settings.pretrain_steps):
        for name, model in models.items():
            loss = model(next(streams[name])).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()


def pretrain_trunk(benches: Sequence[DomainBench], settings: TransferSettings, seed: int) -> dict[str, torch.Tensor]:
    """The state of a trunk pretrained on these domains (one domain: in-domain; several: joint)."""
    torch.manual_seed(seed)
    trunk = Trunk(settings.trunk)
    models = {}
    for bench in benches:
        encoder = TokenEncoder(bench.tokenizer, settings.trunk)
        encoder.trunk = trunk  # every domain trains the same trunk object
        models[bench.domain] = MaskedAutoencoder(encoder, settings.mae)
    _pretrain(models, {b.domain: b for b in benches}, settings, seed)
    return copy.deepcopy(trunk.state_dict())


def evaluate_target(
    bench: DomainBench, trunk_state: dict[str, torch.Tensor] | None, settings: TransferSettings, seed: int
) -> tuple[float, float, str]:
    """(probe, fine-tune, metric name) of an encoder for `bench` whose trunk starts from `trunk_state`."""
    torch.manual_seed(seed)
    encoder = TokenEncoder(bench.tokenizer, settings.trunk)
    if trunk_state is not None:
        encoder.trunk.load_state_dict(trunk_state)
    train, test = embed(encoder, bench.train_x), embed(encoder, bench.test_x)
    probe = linear_probe(train, bench.train_y, test, bench.test_y, task=bench.task, seed=seed)
    tuned = finetune(
        encoder,
        bench.train_x,
        bench.train_y,
        bench.test_x,
        bench.test_y,
        task=bench.task,
        epochs=settings.finetune_epochs,
        seed=seed,
    )
    return probe.value, tuned.value, probe.metric


def transfer_matrix(
    benches: Sequence[DomainBench], settings: TransferSettings, joint: bool = False, show_progress: bool = True
) -> list[TransferScore]:
    """Scores for every (source, target, seed); sources: random init, each domain, and `joint` if asked."""
    sources = [RANDOM, *(b.domain for b in benches)] + ([JOINT] if joint else [])
    total = len(settings.seeds) * len(sources)
    scores: list[TransferScore] = []
    with progress_bar("transfer experiments", total=total, enabled=show_progress) as advance:
        for seed in settings.seeds:
            for source in sources:
                if source == RANDOM:
                    state = None
                elif source == JOINT:
                    state = pretrain_trunk(benches, settings, seed)
                else:
                    state = pretrain_trunk([b for b in benches if b.domain == source], settings, seed)
                for target in benches:
                    probe, tuned, metric = evaluate_target(target, state, settings, seed)
                    scores.append(TransferScore(source, target.domain, seed, probe, tuned, metric))
                advance()
    return scores


def summarise(scores: Sequence[TransferScore], protocol: str = "probe") -> dict[tuple[str, str], tuple[float, float]]:
    """(source, target) -> (mean, half-width of the 95% confidence interval over seeds)."""
    from hfm.shared.eval.stats import mean_confidence_interval

    cells: dict[tuple[str, str], list[float]] = {}
    for score in scores:
        cells.setdefault((score.source, score.target), []).append(getattr(score, protocol))
    out = {}
    for key, values in cells.items():
        mean, low, high = mean_confidence_interval(values)
        out[key] = (mean, (high - low) / 2 if np.isfinite(high - low) else float("nan"))
    return out
