"""Morphological traits in physical units from the segmented object (scikit-image).

The object is the largest connected region that differs from the background (the image border) by more than an
Otsu threshold; holes are filled so a transparent diatom frustule counts as its outline. Sizes follow the
conventions plankton ecologists use (e.g. EcoTaxa/Zooprocess features):

- area_um2: pixel count x pixel area;
- esd_um: equivalent spherical diameter, the diameter of the disc with that area;
- major_um, minor_um: axes of the ellipse with the same second moments;
- biovolume_esd_um3: volume of the sphere of diameter ESD;
- biovolume_ellipsoid_um3: prolate spheroid from the ellipse axes (pi/6 * major * minor^2).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

from hfm.plankton.readers.images import background_level

TRAIT_NAMES = (
    "area_um2",
    "esd_um",
    "major_um",
    "minor_um",
    "perimeter_um",
    "biovolume_esd_um3",
    "biovolume_ellipsoid_um3",
)


def segment(grey: np.ndarray) -> np.ndarray:
    """Boolean mask of the main object: largest region farther from the background level than Otsu's threshold."""
    contrast = np.abs(grey.astype(np.float64) - background_level(grey))
    if contrast.max() <= 0:
        return np.zeros(grey.shape, dtype=bool)
    mask = contrast > threshold_otsu(contrast)
    labels = label(mask)
    if labels.max() == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(labels == sizes.argmax())


def measure_traits(grey: np.ndarray, pixel_size_um: float, mask: np.ndarray | None = None) -> dict[str, float]:
    """Traits of the main object in micrometres; NaN for every trait when nothing is segmented."""
    mask = segment(grey) if mask is None else mask
    if not mask.any():
        return dict.fromkeys(TRAIT_NAMES, math.nan)
    props = regionprops(mask.astype(np.uint8))[0]
    area = props.area * pixel_size_um**2
    esd = 2.0 * math.sqrt(area / math.pi)
    major = props.axis_major_length * pixel_size_um
    minor = props.axis_minor_length * pixel_size_um
    return {
        "area_um2": float(area),
        "esd_um": float(esd),
        "major_um": float(major),
        "minor_um": float(minor),
        "perimeter_um": float(props.perimeter * pixel_size_um),
        "biovolume_esd_um3": float(math.pi / 6.0 * esd**3),
        "biovolume_ellipsoid_um3": float(math.pi / 6.0 * major * minor**2),
    }


def morphology_features(grey: np.ndarray) -> np.ndarray:
    """Handcrafted shape and grey-level descriptors (pixel units) for the classical baseline classifier."""
    mask = segment(grey)
    if not mask.any():
        return np.zeros(16, dtype=np.float64)
    props = regionprops(mask.astype(np.uint8), intensity_image=grey)[0]
    inside = grey[mask]
    contrast = np.abs(inside - background_level(grey))
    return np.array(
        [
            math.log1p(props.area),
            math.log1p(props.perimeter),
            math.log1p(props.axis_major_length),
            math.log1p(props.axis_minor_length),
            props.eccentricity,
            props.solidity,
            props.extent,
            props.perimeter**2 / (4 * math.pi * props.area),  # 1 for a disc, larger for ragged outlines
            inside.mean(),
            inside.std(),
            contrast.mean(),
            np.percentile(contrast, 90),
            *props.moments_hu[:4],
        ],
        dtype=np.float64,
    )
