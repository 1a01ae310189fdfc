"""Issue 14's fine-tuning levers: real-noise superposition and crops placed anywhere in the record."""

import numpy as np
import pytest

from hfm.seismic.data.augment import noise_floor, superpose_real_noise
from hfm.seismic.data.records import Records, training_crops
from hfm.shared.errors import HFMError


def _events(n: int = 6, samples: int = 3000, seed: int = 0) -> np.ndarray:
    """Unit noise with a burst 20x louder in the last third: the floor is the noise, not the burst."""
    rng = np.random.default_rng(seed)
    waves = rng.standard_normal((n, 3, samples))
    waves[:, :, 2 * samples // 3 :] *= 20.0
    return waves.astype(np.float32)


def test_noise_floor_is_the_noise_not_the_event():
    floor = noise_floor(_events()[0])
    assert floor.shape == (3, 1)
    # the burst (20x) covers a third of the blocks; the median block lies among the noise blocks
    assert np.all((floor > 0.95) & (floor < 1.1))


def test_real_noise_is_added_at_the_drawn_multiple_of_the_window_floor_and_seeded():
    waves = _events()
    waves[2, 1:] = 0.0  # a vertical-only window keeps its missing horizontals zero
    noise = 7.0 * np.random.default_rng(1).standard_normal((3, 3, 4000))
    out = superpose_real_noise(waves, noise, fraction=1.0, seed=3)
    again = superpose_real_noise(waves, noise, fraction=1.0, seed=3)
    np.testing.assert_array_equal(out, again)
    assert not np.shares_memory(out, waves) and np.all(waves[2, 1:] == 0)
    assert np.all(out[2, 1:] == 0)
    added = noise_floor(out[0] - waves[0]).ravel()
    # the noise's own scale (7) is gone: one drawn level, in [0.5, 4] floors, the same on every component
    assert added.min() >= 0.5 and added.max() <= 4.0
    np.testing.assert_allclose(added, added.mean(), rtol=0.1)
    assert np.array_equal(superpose_real_noise(waves, noise, 0.0, 3), waves)
    some = superpose_real_noise(waves, noise, fraction=0.5, seed=3)
    changed = [not np.array_equal(a, b) for a, b in zip(some, waves, strict=True)]
    assert 0 < sum(changed) < len(waves)
    with pytest.raises(HFMError, match="fraction"):
        superpose_real_noise(waves, noise, fraction=1.5, seed=0)


def _records(n: int = 4, length: int = 9001) -> Records:
    rng = np.random.default_rng(0)
    waves = [rng.standard_normal((3, length)).astype(np.float32) for _ in range(n)]
    return Records(
        waves, np.full(n, 3000.0), np.full(n, 3800.0), np.array([f"e{i}" for i in range(n)]),
        np.array(["X.A"] * n), np.array(["ZNE"] * n), 100.0, "test",
    )  # fmt: skip


def test_anchored_crops_always_hold_p_and_unanchored_ones_may_not():
    records = _records()
    anchored = training_crops(records, 3000, 16, seed=0)
    assert np.all(np.isfinite(anchored.p_sample))
    assert np.all((anchored.p_sample >= 50) & (anchored.p_sample <= 2950))
    # the default draws exactly as before (anchored_fraction=1 makes no extra draw)
    np.testing.assert_array_equal(
        training_crops(records, 3000, 16, 0, anchored_fraction=1.0).p_sample, anchored.p_sample
    )
    free = training_crops(records, 3000, 16, seed=0, anchored_fraction=0.0)
    without_p = ~np.isfinite(free.p_sample)
    assert 0.3 < without_p.mean() < 0.7  # P at 30 s of a 90 s record: about half the free starts lie past it
    # a crop past P still carries the S onset wherever it falls inside it
    s_inside = without_p & np.isfinite(free.s_sample)
    assert s_inside.any() and np.all((free.s_sample[s_inside] >= 0) & (free.s_sample[s_inside] < 3000))
