"""The connectivity rule of the fluid split (thirteenth pass, docs/radiome-experiments.md): horns of a deep ventricle
are grown a few steps above a depth floor, small deep pockets apart from the ventricles go back to background, GM/WM
never move."""

from __future__ import annotations

import numpy as np
import pytest

from hfm.radiome.predict import (
    CONNECT_DEPTH,
    CONNECT_RATIO,
    CONNECT_STEPS,
    connect_ventricles,
    fuse_with_clusters,
    mask_depth,
)
from hfm.shared.errors import HFMError


def _cube_brain() -> tuple[np.ndarray, np.ndarray]:
    """A 41^3 cube brain (largest depth 21) of WM with a GM face, after a depth split: a deep ventricle (CSF, 729
    voxels), a second one (CSF, 216), a deep pocket apart from both (CSF, 27), a horn of fluid left as background
    running from the first ventricle towards the surface (x 27-40 at y = z = 22) and a shallow fluid pocket."""
    labels = np.zeros((45, 45, 45), np.uint8)
    mask = np.zeros(labels.shape, bool)
    mask[2:43, 2:43, 2:43] = True
    labels[mask] = 3
    labels[2, 2:43, 2:43] = 2  # a GM face
    labels[18:27, 18:27, 18:27] = 1  # deep ventricle
    labels[30:36, 10:16, 18:24] = 1  # second ventricle, 216 >= 0.2 x 729
    labels[10:13, 20:23, 20:23] = 1  # deep pocket, 27 voxels
    labels[27:41, 22, 22] = 0  # horn: depth 43 - x, from 16 at x = 27 to 3 at x = 40
    labels[3:5, 3:5, 3:5] = 0  # shallow pocket
    return labels, mask


def test_horns_grow_a_few_steps_above_the_floor_and_small_pockets_drop() -> None:
    labels, mask = _cube_brain()
    assert (CONNECT_DEPTH, CONNECT_STEPS, CONNECT_RATIO) == (0.35, 3, 0.2)
    out = connect_ventricles(labels, mask)
    horn = out[27:41, 22, 22]
    assert horn.tolist() == [1, 1, 1] + [0] * 11  # three steps from the ventricle
    assert (out[18:27, 18:27, 18:27] == 1).all() and (out[30:36, 10:16, 18:24] == 1).all()
    assert (out[10:13, 20:23, 20:23] == 0).all()  # 27 < 0.2 x 732: dropped
    assert (out[3:5, 3:5, 3:5] == 0).all()  # shallow fluid, reached by nothing
    assert int((out == 1).sum()) == 729 + 3 + 216
    assert np.array_equal(out >= 2, labels >= 2) and np.array_equal(out[out >= 2], labels[labels >= 2])
    assert labels[27, 22, 22] == 0  # the input is not changed
    # unlimited steps: the horn stops at the floor (depth 8 > 0.35 x 21 = 7.35 at x = 35, 7 at x = 36)
    far = connect_ventricles(labels, mask, steps=100)
    assert far[27:41, 22, 22].tolist() == [1] * 9 + [0] * 5
    # no size cut: the pocket stays; no steps and no cut: nothing changes
    assert (connect_ventricles(labels, mask, ratio=0.0)[10:13, 20:23, 20:23] == 1).all()
    assert np.array_equal(connect_ventricles(labels, mask, steps=0, ratio=0.0), labels)


def test_connectivity_rule_edge_cases() -> None:
    labels, mask = _cube_brain()
    no_csf = np.where(labels == 1, 0, labels).astype(np.uint8)
    assert np.array_equal(connect_ventricles(no_csf, mask), no_csf)  # no seed: nothing to grow or cut
    # a voxel touching the ventricle only at a corner is not connected (6-connectivity); one sharing a face is
    corner = labels.copy()
    corner[27, 27, 27] = 0
    assert connect_ventricles(corner, mask)[27, 27, 27] == 0 and connect_ventricles(corner, mask)[27, 22, 22] == 1
    with pytest.raises(HFMError, match="floor"):
        connect_ventricles(labels, mask, floor=1.0)
    with pytest.raises(HFMError, match="floor"):
        connect_ventricles(labels, mask, ratio=1.5)
    # the depth a caller already has gives the same answer; one on another grid is refused
    depth = mask_depth(mask)
    assert depth.max() == 21 and depth[~mask].max() == 0 and depth[2, 22, 22] == 1
    assert np.array_equal(connect_ventricles(labels, mask, depth=depth), connect_ventricles(labels, mask))
    with pytest.raises(HFMError, match="depth"):
        connect_ventricles(labels, mask, depth=depth[1:])


def test_the_connected_fluid_rule_is_the_head_split_then_the_connectivity_rule() -> None:
    labels, mask = _cube_brain()
    truth = np.where(labels == 0, 1, labels)  # fluid everywhere the toy has background or CSF (intensity 0.2)
    truth[~mask] = 0
    image = np.array([0.0, 0.2, 0.5, 0.8])[truth] + np.random.default_rng(0).normal(0, 0.02, truth.shape)
    image = np.where(mask, image, 0).astype(np.float32)
    prior = np.full((4, *mask.shape), 0.25, np.float32)
    head = np.full(mask.shape, -5.0, np.float32)  # a head sure of nothing: the depth rule alone
    split = fuse_with_clusters(prior, image, mask, 0.0, fluid="depth-or-head", ventricle_logit=head)
    joined = fuse_with_clusters(prior, image, mask, 0.0, fluid="depth-or-head-connected", ventricle_logit=head)
    assert np.array_equal(joined, connect_ventricles(split, mask))
    # depth > 0.45 x 21 keeps fluid with every coordinate in 11-33: the ventricle (729), 4 x 5 x 6 of the second
    # one, 2 x 3 x 3 of the pocket and the horn's x 27-33
    assert int((split == 1).sum()) == 729 + 120 + 18 + 7
    # then the horn grows to x 35 and the second ventricle back to its 216 (depth >= 8 within 3 steps), the pocket
    # (27 once grown) is dropped
    assert int((joined == 1).sum()) == 729 + 9 + 216
    assert (joined[10:13, 20:23, 20:23] == 0).all() and joined[27:41, 22, 22].tolist() == [1] * 9 + [0] * 5
    with pytest.raises(HFMError, match="ventricle_logit"):
        fuse_with_clusters(prior, image, mask, fluid="depth-or-head-connected")
