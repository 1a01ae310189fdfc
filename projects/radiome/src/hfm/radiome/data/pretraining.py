"""Masked-autoencoder pretraining data: every real MR volume available, on the 2 mm grid, with synthetic images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from hfm.radiome.synthetic.synthseg import GRID_MM, SynthSegDataset, normalise_t1
from hfm.shared.errors import HFMError


def real_mr_volumes(pool: int = 1) -> dict[str, np.ndarray]:
    """Every real MR volume for pretraining, RAS, on the 2 mm grid, normalised: name -> (X, Y, Z) float32.

    pool > 1: mean-pooled by that factor from the 2 mm grid (4 mm at 2) before the normalisation.

    MNI152 2009 T1 (nilearn), niivue's FLAIR and, where the Debian package is installed, the ITK example T1 (its
    2 x 2 x 3 mm grid resampled). Absent sources are left out; the test subjects are never read here.
    """
    from hfm.radiome.data.preprocess import resample
    from hfm.radiome.readers.brain import itk_data_dir, mni152_tissue
    from hfm.radiome.readers.volume import read_nifti
    from hfm.shared.sample_data import DataUnavailable, require_data

    volumes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        t1, _ = mni152_tissue()
        volumes["mni152"] = (t1.array, t1.affine)
    except FileNotFoundError:
        pass
    try:
        flair = read_nifti(require_data("radiome/niivue/FLAIR.nii.gz"))
        volumes["niivue-flair"] = (flair.array, flair.affine)
    except DataUnavailable:
        pass
    if (folder := itk_data_dir()) is not None:
        itk = read_nifti(folder / "KmeansTest_T1UCharRaw.nii.gz")
        volumes["itk-t1"] = (itk.array, itk.affine)
    out = {}
    for name, (array, affine) in volumes.items():
        resampled, _ = resample(np.asarray(array, np.float32), affine, (GRID_MM,) * 3)
        if pool > 1:
            grid = torch.as_tensor(resampled, dtype=torch.float32)[None, None]
            resampled = torch.nn.functional.avg_pool3d(grid, pool, ceil_mode=True)[0, 0].numpy()
        out[name] = normalise_t1(resampled)
    return out


class PretrainVolumes(Dataset):
    """Item i: a random crop of a real MR volume (even i) or a synthetic image (odd i); a pure function of (seed, i)."""

    def __init__(
        self,
        volumes: dict[str, np.ndarray],
        synthetic: SynthSegDataset | None,
        patch: Sequence[int],
        seed: int = 0,
        length: int = 10**6,
    ) -> None:
        if not volumes and synthetic is None:
            raise HFMError("MAE pretraining: no real MR volume and no synthetic images to learn from")
        self.volumes = [
            np.pad(v, [(0, max(0, p - s)) for s, p in zip(v.shape, patch, strict=True)]) for v in volumes.values()
        ]
        self.synthetic, self.patch, self.seed, self.length = synthetic, tuple(patch), seed, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.synthetic is not None and (index % 2 == 1 or not self.volumes):
            return {"image": self.synthetic[index]["image"]}
        rng = np.random.default_rng([self.seed, int(index)])
        volume = self.volumes[int(rng.integers(len(self.volumes)))]
        low = [int(rng.integers(0, s - p + 1)) for s, p in zip(volume.shape, self.patch, strict=True)]
        crop = volume[tuple(slice(a, a + p) for a, p in zip(low, self.patch, strict=True))]
        if rng.random() < 0.5:
            crop = crop[::-1]
        return {"image": torch.as_tensor(np.ascontiguousarray(crop), dtype=torch.float32)[None]}
