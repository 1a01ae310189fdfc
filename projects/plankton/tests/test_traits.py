import math

import numpy as np
import pytest

from hfm.plankton.metrics import measure_traits, segment
from hfm.plankton.synthetic import CLASSES, ellipse_mask, make_synthetic, render


@pytest.mark.parametrize("pixel_size", [0.5, 1.0, 2.5])
def test_traits_of_an_ellipse_of_known_size_in_micrometres(pixel_size):
    a_um, b_um = 60.0, 25.0  # semi-axes
    a, b = a_um / pixel_size, b_um / pixel_size
    side = int(2.6 * a) + 10
    mask = ellipse_mask((side, side), ((side - 1) / 2, (side - 1) / 2), a, b, math.radians(30))
    grey = render(mask, np.random.default_rng(1))
    traits = measure_traits(grey, pixel_size)
    tolerance = 0.02 if pixel_size < 2 else 0.04  # a 48 x 20 px ellipse is measured less finely
    assert traits["area_um2"] == pytest.approx(math.pi * a_um * b_um, rel=tolerance)
    assert traits["esd_um"] == pytest.approx(2 * math.sqrt(a_um * b_um), rel=tolerance)
    assert traits["major_um"] == pytest.approx(2 * a_um, rel=tolerance)
    assert traits["minor_um"] == pytest.approx(2 * b_um, rel=tolerance * 2)
    assert traits["biovolume_esd_um3"] == pytest.approx(math.pi / 6 * (2 * math.sqrt(a_um * b_um)) ** 3, rel=0.07)
    assert traits["biovolume_ellipsoid_um3"] == pytest.approx(math.pi / 6 * 2 * a_um * (2 * b_um) ** 2, rel=0.15)


def test_segmentation_finds_a_bright_object_on_a_dark_background_too():
    mask = ellipse_mask((60, 60), (29.5, 29.5), 15, 15, 0)
    dark_field = np.where(mask, 0.8, 0.05) + np.random.default_rng(0).normal(0, 0.01, mask.shape)
    assert (segment(dark_field) == mask).mean() > 0.99
    assert measure_traits(dark_field, 1.0)["esd_um"] == pytest.approx(30.0, rel=0.03)


def test_synthetic_generator_is_seeded_and_balanced():
    one, two = make_synthetic(3, seed=4), make_synthetic(3, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(one.images, two.images, strict=True))
    assert np.bincount(one.labels).tolist() == [3] * len(CLASSES)
    assert one.pixel_size_um.min() >= 1.0 and one.pixel_size_um.max() <= 3.0
