"""The picker ensemble (issue 14, h57): one member answers as itself; several answer with the mean of their
probabilities, read through the same softmax/sigmoid as one picker, in `annotate` too."""

import numpy as np
import pytest
import torch

from hfm.seismic.models import PickerEnsemble
from hfm.seismic.predict import AnnotateConfig, annotate_array
from hfm.shared.errors import HFMError
from hfm.shared.models.registry import create_model

TINY = {"width": 32, "depth": 1, "heads": 2, "patch_len": 20}


def _pickers(count: int) -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [create_model("seismic-picker-tiny", **TINY, refiner_depth=2).eval() for _ in range(count)]


def _probabilities(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return logits[:, :3].softmax(dim=1), logits[:, 3:].sigmoid()


def test_one_member_answers_as_itself_and_none_is_refused():
    (picker,) = _pickers(1)
    x = torch.randn(2, 3, 437)
    with torch.no_grad():
        alone, ensembled = _probabilities(picker(x)), _probabilities(PickerEnsemble([picker])(x))
    for a, b in zip(alone, ensembled, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)
    with pytest.raises(HFMError, match="at least one picker"):
        PickerEnsemble([])


def test_three_members_answer_with_the_mean_of_their_probabilities():
    pickers = _pickers(3)
    x = torch.randn(2, 3, 300)
    with torch.no_grad():
        each = [_probabilities(p(x)) for p in pickers]
        phases, detection = _probabilities(PickerEnsemble(pickers)(x))
    torch.testing.assert_close(phases, torch.stack([e[0] for e in each]).mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(detection, torch.stack([e[1] for e in each]).mean(0), rtol=1e-4, atol=1e-5)
    assert not torch.allclose(each[0][0], each[1][0])  # the members differ, so the mean is not any one of them
    # annotate reads the ensemble like one picker: stitched probabilities are the mean of each member's
    data = np.random.default_rng(0).normal(size=(3, 2500)).astype(np.float32)
    config = AnnotateConfig(window=1000)
    mean = np.mean([annotate_array(p, data, config) for p in pickers], axis=0)
    np.testing.assert_allclose(annotate_array(PickerEnsemble(pickers), data, config), mean, rtol=1e-4, atol=1e-5)


def test_ensemble_members_train_the_same_in_two_processes_as_in_one(tmp_path):
    """The benchmark's further members (pretraining and fine-tuning at one thread, `parallel_map`) do not depend on
    how many processes run them, and members with different seeds differ."""
    from dataclasses import replace

    from hfm.seismic.benchmarks.picking import PickBenchConfig, finetune_member, pretrain_member
    from hfm.seismic.data.records import Records
    from hfm.seismic.data.windows import synthetic_windows
    from hfm.shared.artifacts import read_weights
    from hfm.shared.parallel import parallel_map

    config = replace(PickBenchConfig.quick(), window=400, batch_size=2, refiner_depth=2, onset_pretrain_steps=2)
    train = Records.from_windows(synthetic_windows(4, seed=4, samples=1000, noise_fraction=0.0))
    corpus = synthetic_windows(4, 0, config.window).waveforms
    for workers in (1, 2):
        jobs = [(corpus, tmp_path / f"w{workers}" / f"pre{k}", replace(config, seed=k)) for k in (1, 2)]
        parallel_map(pretrain_member, jobs, workers)
    files = {
        (w, k): read_weights(tmp_path / f"w{w}" / f"pre{k}" / "final" / "model.safetensors")
        for w in (1, 2)
        for k in (1, 2)
    }
    for k in (1, 2):
        assert all(torch.equal(files[1, k][name], files[2, k][name]) for name in files[1, k])
    assert not torch.equal(files[1, 1]["head.weight"], files[1, 2]["head.weight"])  # seeded per member
    init = str(tmp_path / "w1" / "pre1" / "final")
    jobs = [(train, tmp_path / f"ft{k}", config.settings(2, k), config, init if k == 1 else None) for k in (1, 2)]
    serial = parallel_map(finetune_member, jobs, workers=1)
    jobs = [(train, tmp_path / f"ft{k}-spawned", *job[2:]) for k, job in zip((1, 2), jobs, strict=True)]
    spawned = parallel_map(finetune_member, jobs, workers=2)
    for a, b in zip(serial, spawned, strict=True):
        assert all(torch.equal(v, b.state_dict()[name]) for name, v in a.state_dict().items())
