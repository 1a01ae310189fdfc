"""Per-fold in-domain pretraining: which images it sees (never a test fold's), continuing from a base, caching."""

import numpy as np
import pandas as pd
import pytest
import torch

from hfm.plankton.experiments.crossval import splits
from hfm.plankton.experiments.in_fold import in_fold_encoders, in_fold_rows
from hfm.plankton.models.cnn import EncoderConfig, PlanktonCNN, pretrain_encoder
from hfm.plankton.synthetic import discs_and_bars


def _table() -> pd.DataFrame:
    # 6 rows of another instrument, 20 labelled rows of the evaluated set, 2 rows of a third source left out.
    sources = ["whoi-wiki"] * 3 + ["bering-sea"] * 10 + ["ifcb-bins"] * 3 + ["bering-sea"] * 10 + ["flowcam"] * 2
    return pd.DataFrame({"source": sources, "taxon": ["x", "y"] * 14})


def test_in_fold_rows_are_the_other_sources_and_the_training_fold_never_a_test_row():
    table = _table()
    source_rows = np.flatnonzero(table["source"] == "bering-sea")
    labels = table["taxon"].to_numpy()[source_rows]
    for train, test in splits(labels, repeats=1, folds=5, seed=0):
        rows = in_fold_rows(table, "bering-sea", ("whoi-wiki", "ifcb-bins"), source_rows, train)
        assert not np.intersect1d(rows, source_rows[test]).size
        assert len(rows) == 6 + 16  # every other-source row and the 16 training rows of the fold
        assert set(table["source"].iloc[rows]) == {"whoi-wiki", "ifcb-bins", "bering-sea"}
        assert np.intersect1d(rows, source_rows).tolist() == sorted(source_rows[train].tolist())
    with pytest.raises(ValueError, match="evaluated source"):
        in_fold_rows(table, "bering-sea", ("bering-sea", "ifcb-bins"), source_rows, np.arange(5))


def _weights(encoder: PlanktonCNN) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in encoder.parameters()])


def test_continued_pretraining_starts_from_a_copy_of_the_base():
    canvases, _ = discs_and_bars(16, seed=1, size=16)
    base, _ = pretrain_encoder(canvases, EncoderConfig(canvas=16, width=4, steps=3, batch=8, seed=0))
    before = _weights(base).clone()
    tiny = EncoderConfig(canvas=16, width=4, steps=1, batch=8, lr=1e-9, seed=1)
    continued, log = pretrain_encoder(canvases, tiny, init=base)
    fresh, _ = pretrain_encoder(canvases, tiny)
    assert torch.equal(_weights(base), before)  # the base is copied, not trained in place
    assert float((_weights(continued) - before).abs().max()) < 1e-6  # one step at lr 1e-9 barely moves it
    assert float((_weights(fresh) - before).abs().max()) > 0.1  # random weights are far from it
    assert log["images"] == 16


def test_in_fold_encoders_are_cached_per_fold_and_differ_by_their_images(tmp_path):
    canvases, _ = discs_and_bars(24, seed=2, size=16)
    config = EncoderConfig(canvas=16, width=4, steps=3, batch=8, seed=0)
    base, _ = pretrain_encoder(canvases[:8], config)
    fold_rows = [np.arange(0, 16), np.arange(8, 24)]
    calls = []

    def runner(function, jobs):
        calls.append(len(jobs))
        return [function(job) for job in jobs]

    first = in_fold_encoders(canvases, fold_rows, base, config, tmp_path, "toy", steps=2, runner=runner)
    again = in_fold_encoders(canvases, fold_rows, base, config, tmp_path, "toy", steps=2, runner=runner)
    assert calls == [2, 0]  # the second call trains nothing: both folds come from the cache
    assert len(list(tmp_path.glob("encoder-in-fold-toy-*.safetensors"))) == 2
    for a, b in zip(first, again, strict=True):
        assert torch.equal(_weights(a), _weights(b))
    assert not torch.equal(_weights(first[0]), _weights(first[1]))  # different images, different encoders
    # Seeded: the same fold trained again in this process gives the same weights bit for bit.
    (retrained,) = in_fold_encoders(canvases, fold_rows[:1], base, config, tmp_path / "new", "toy", steps=2)
    assert torch.equal(_weights(retrained), _weights(first[0]))


def test_the_random_weights_fixmatch_peer_differs_from_the_pretrained_one_only_by_its_start():
    from hfm.plankton.experiments.in_fold import weights_digest
    from hfm.plankton.experiments.study import _fixmatch_probabilities
    from hfm.plankton.models.fixmatch import FixMatchConfig, cnn_probabilities, train_fixmatch_cnn

    canvases, labels = discs_and_bars(24, seed=3, size=16)
    config = FixMatchConfig(steps=3, batch=8, width=4, seed=0)
    base, _ = pretrain_encoder(canvases, EncoderConfig(canvas=16, width=4, steps=2, batch=8, seed=0))
    job = (canvases[:8], labels[:8], canvases[8:16], canvases[16:], config, 4)
    random_start = _fixmatch_probabilities((*job, None))
    pretrained_start = _fixmatch_probabilities((*job, base.state_dict()))
    # Same seed and data: from random weights it is exactly FixMatch without `init`.
    direct = cnn_probabilities(train_fixmatch_cnn(canvases[:8], labels[:8], canvases[8:16], config)[0], canvases[16:])
    np.testing.assert_array_equal(random_start, direct)
    assert random_start.shape == pretrained_start.shape == (8, 2)
    assert float(np.abs(random_start - pretrained_start).max()) > 1e-3
    assert weights_digest(None) == "random" and len(weights_digest(base)) == 12
