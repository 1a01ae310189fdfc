"""Baselines in the same benchmark: classical intensity clustering and a MONAI UNet trained from scratch.

Clustering (k-means or multi-Otsu) splits the foreground's intensities into `classes` groups and orders them by
mean intensity; `order_to_label` maps that order to label values (for T1 brain tissue: CSF darkest -> background,
then grey matter, then white matter).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from monai.networks.nets import UNet
from torch import nn

from hfm.shared.models.registry import PretrainedConfig, register_model


def cluster_intensities(
    image: np.ndarray, foreground: np.ndarray, order_to_label: Sequence[int], method: str = "kmeans", seed: int = 0
) -> np.ndarray:
    """Label map: outside `foreground` 0; inside, the intensity cluster's rank mapped through `order_to_label`."""
    values = image[foreground].astype(np.float64)
    classes = len(order_to_label)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=classes, n_init=4, random_state=seed).fit(values[:, None])
        rank = np.argsort(np.argsort(km.cluster_centers_[:, 0]))
        assigned = rank[km.labels_]
    elif method == "otsu":
        from skimage.filters import threshold_multiotsu

        assigned = np.digitize(values, threshold_multiotsu(values, classes=classes))
    else:
        raise ValueError(f"unknown clustering method {method!r} (kmeans, otsu)")
    out = np.zeros(image.shape, np.uint8)
    out[foreground] = np.asarray(order_to_label, np.uint8)[assigned]
    return out


@register_model(
    "radiome-unet-baseline",
    PretrainedConfig(
        "radiome-unet-baseline",
        "segmenter",
        "none",
        "MONAI UNet (16-32-64-128, residual units), from scratch",
        "(C, X, Y, Z) volumes",
        {"channels": 1, "classes": 3},
    ),
)
def monai_unet(
    channels: int = 1,
    classes: int = 3,
    features: Sequence[int] = (16, 32, 64, 128),
) -> nn.Module:
    return UNet(
        spatial_dims=3,
        in_channels=channels,
        out_channels=classes,
        channels=tuple(features),
        strides=(2,) * (len(features) - 1),
        num_res_units=1,
        norm="instance",
    )
