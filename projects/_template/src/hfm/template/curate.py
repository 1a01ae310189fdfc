"""Raw class folders -> an `hfm-arrays` dataset with its card, through the core curation driver.

Signals are cut or zero-padded to the contract's length; the split is a fixed function of the key (a hash), so a
file keeps its split when others are added.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Unpack

import numpy as np

from hfm.shared.arraystore import ArrayStoreWriter
from hfm.shared.contracts import Sample
from hfm.shared.curate_driver import CuratedDataset, CurationRun, CurationTool, DatasetDescription, curate_dataset
from hfm.shared.curation import CurationItem
from hfm.template.contract import METADATA_CONTRACT, SAMPLE_CONTRACT, SIGNAL_LENGTH
from hfm.template.format import FORMAT_NAME
from hfm.template.readers import RawSignal, list_raw, read_signal


def split_of(key: str, dev: float = 0.15, test: float = 0.25) -> str:
    """train / dev / test from a hash of the key: stable under re-runs and additions."""
    u = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if u < test else "dev" if u < test + dev else "train"


def _item(raw: RawSignal) -> CurationItem:
    def load() -> Sample:
        signal = read_signal(raw.path)[:, :SIGNAL_LENGTH]
        if signal.shape[1] < SIGNAL_LENGTH:
            signal = np.pad(signal, ((0, 0), (0, SIGNAL_LENGTH - signal.shape[1])))
        return Sample(
            arrays={"signal": signal}, units={"signal": "1"}, attrs={"label": raw.label, "split": split_of(raw.key)}
        )

    return CurationItem(key=raw.key, sources=[raw.path], load=load)


def curate_signals(raw: Path, out: Path, describe: DatasetDescription, **run: Unpack[CurationRun]) -> CuratedDataset:
    """Curate the class folders under `raw`; `run` as the core driver takes it (`show_progress`; `sharding`: with
    a `shard_size`, in shards by `sharding.workers` processes, resumable)."""
    return curate_dataset(
        (_item(r) for r in list_raw(raw)),
        out,
        domain="template",
        format=FORMAT_NAME,
        contract=SAMPLE_CONTRACT,
        metadata_contract=METADATA_CONTRACT,
        writer=ArrayStoreWriter(),  # the per-shard writer too: each shard is a small hfm-arrays dataset
        describe=describe,
        tool=CurationTool("hfm template curate", "hfm-template", packages=("numpy",)),
        **run,
    )
