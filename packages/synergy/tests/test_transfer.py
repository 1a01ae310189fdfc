"""Transfer machinery on two small synthetic domains with different tokenizers (series and images)."""

import numpy as np
import pytest
import torch

from hfm.shared.domain_bench import DomainBench
from hfm.shared.errors import HFMError
from hfm.shared.models.generic_tokenizers import ImageTokenizer, SeriesTokenizer
from hfm.shared.models.mae import MAEConfig
from hfm.shared.models.trunk import Trunk, TrunkConfig
from hfm.synergy.report import heatmap, markdown_table
from hfm.synergy.transfer import JOINT, RANDOM, TransferSettings, evaluate_target, pretrain_trunk, transfer_matrix


def series_bench(n: int = 96, seed: int = 0) -> DomainBench:
    """Two-channel oscillations whose frequency is the class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    t = np.arange(64)
    freq = np.where(labels == 0, 0.05, 0.15)[:, None]
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    x = np.stack([np.sin(2 * np.pi * freq * t + phase), np.cos(2 * np.pi * freq * t + phase)], axis=1)
    x = torch.tensor(x + 0.1 * rng.normal(size=x.shape), dtype=torch.float32)
    return DomainBench("series", SeriesTokenizer(2, 8), x, x[:64], labels[:64], x[64:], labels[64:])


def image_bench(n: int = 96, seed: int = 1) -> DomainBench:
    """Bright squares in the left or the right half."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = rng.normal(0, 0.2, (n, 1, 16, 16))
    for i, label in enumerate(labels):
        col = rng.integers(0, 4) + (8 if label else 0)
        row = rng.integers(0, 12)
        x[i, 0, row : row + 4, col : col + 4] += 2.0
    x = torch.tensor(x, dtype=torch.float32)
    return DomainBench("images", ImageTokenizer(1, 4), x, x[:64], labels[:64], x[64:], labels[64:])


SETTINGS = TransferSettings(
    trunk=TrunkConfig(width=32, depth=1, heads=2),
    mae=MAEConfig(mask_ratio=0.5, decoder_width=32, decoder_depth=1, decoder_heads=2),
    pretrain_steps=15,
    batch_size=16,
    finetune_epochs=2,
    seeds=(0, 1),
)


def test_pretraining_changes_the_trunk_and_is_deterministic():
    bench = series_bench()
    first = pretrain_trunk([bench], SETTINGS, seed=0)
    again = pretrain_trunk([bench], SETTINGS, seed=0)
    assert all(torch.equal(first[k], again[k]) for k in first)
    torch.manual_seed(0)
    untrained = Trunk(SETTINGS.trunk).state_dict()
    moved = [k for k in first if not torch.equal(first[k], untrained[k])]
    assert len(moved) == len(first)
    probe, tuned, metric = evaluate_target(bench, first, SETTINGS, seed=0)
    assert metric == "accuracy" and probe > 0.9 and 0.0 <= tuned <= 1.0


def test_matrix_covers_every_source_target_and_seed(tmp_path):
    benches = [series_bench(), image_bench()]
    scores = transfer_matrix(benches, SETTINGS, joint=True, show_progress=False)
    cells = {(s.source, s.target, s.seed) for s in scores}
    assert cells == {
        (src, tgt, seed)
        for src in (RANDOM, "series", "images", JOINT)
        for tgt in ("series", "images")
        for seed in (0, 1)
    }
    assert all(0.0 <= s.probe <= 1.0 and s.metric == "accuracy" for s in scores)
    # the tasks are easy: a linear probe on any trunk's embeddings beats chance clearly
    assert np.mean([s.probe for s in scores]) > 0.7
    table = markdown_table(scores, "probe")
    assert "| random init |" in table and "series (accuracy)" in table and "±" in table
    png = heatmap(scores, "probe", tmp_path / "transfer.png")
    assert png.stat().st_size > 5_000


def test_bench_refuses_mismatched_shapes_and_nan():
    bench = series_bench()
    with pytest.raises(HFMError, match="differ in shape"):
        DomainBench(
            "x", bench.tokenizer, bench.unlabelled, bench.train_x[:, :, :32], bench.train_y, bench.test_x, bench.test_y
        )
    broken = bench.unlabelled.clone()
    broken[0, 0, 0] = float("nan")
    with pytest.raises(HFMError, match="NaN"):
        DomainBench("x", bench.tokenizer, broken, bench.train_x, bench.train_y, bench.test_x, bench.test_y)
