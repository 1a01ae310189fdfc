"""The seismic bench for cross-domain experiments (`hfm synergy`).

With the reference data available: the 100 real IPOC traces of seisbench-dummy (CX.PB01, 3 components,
20 Hz, 60 s from the origin), labelled by whether the event's magnitude is above the training median; train on the
dataset's train+dev split, test on its test split. Without it: the synthetic local-earthquake generator, event
window or noise window (detection). Each window is demeaned and scaled as the seismic encoder expects.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hfm.seismic.data.windows import synthetic_windows
from hfm.seismic.format import SeisBenchDataset
from hfm.seismic.tokenizer import WaveformTokenizer
from hfm.shared.domain_bench import DomainBench
from hfm.shared.sample_data import DataUnavailable, require_data

PATCH = 25


def _ipoc(root: Path, seed: int) -> DomainBench:
    dataset = SeisBenchDataset(root)
    meta = dataset.metadata.reset_index(drop=True)
    x = WaveformTokenizer.normalize(torch.from_numpy(np.stack([dataset.waveform(i) for i in range(len(meta))])).float())
    train = meta["split"].isin(["train", "dev"]).to_numpy()
    median = float(meta.loc[train, "source_magnitude"].median())
    y = (meta["source_magnitude"].to_numpy() > median).astype(int)
    return DomainBench(
        domain="seismic",
        tokenizer=WaveformTokenizer(components=3, patch_len=PATCH),
        unlabelled=x[train],
        train_x=x[train],
        train_y=y[train],
        test_x=x[~train],
        test_y=y[~train],
        description=f"{len(meta)} real IPOC traces (seisbench-dummy, CX.PB01, ZNE, 20 Hz, 60 s) -> magnitude above "
        f"the training median ({median:.2f}); split column train+dev / test",
    )


def _synthetic(smoke: bool, seed: int) -> DomainBench:
    windows = synthetic_windows(160 if smoke else 400, seed, samples=1000, noise_fraction=0.5)
    x = WaveformTokenizer.normalize(torch.from_numpy(windows.waveforms).float())
    y = windows.is_event.astype(int)
    cut = int(0.7 * len(x))
    return DomainBench(
        domain="seismic",
        tokenizer=WaveformTokenizer(components=3, patch_len=PATCH),
        unlabelled=x[:cut],
        train_x=x[:cut],
        train_y=y[:cut],
        test_x=x[cut:],
        test_y=y[cut:],
        description="synthetic 3-component local-earthquake records (hfm's generator, 100 Hz, 10 s) -> event "
        "or noise window; 70/30 split (the real IPOC data are not here: `hfm data fetch seismic/seisbench-dummy`)",
    )


def seismic_bench(work_dir: Path, smoke: bool, seed: int) -> DomainBench:
    try:
        dummy = require_data("seismic/seisbench-dummy")
    except DataUnavailable:
        return _synthetic(smoke, seed)
    return _ipoc(dummy, seed)
