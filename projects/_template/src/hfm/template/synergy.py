"""What the template hands to cross-domain experiments: its tokenizer, unlabelled signals and a labelled task."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.domain_bench import DomainBench
from hfm.template.curate import curate_signals
from hfm.template.data import load_split
from hfm.template.synthetic import write_example_raw
from hfm.template.tokenizer import signal_tokenizer


def template_bench(work_dir: Path, smoke: bool, seed: int) -> DomainBench:
    raw = write_example_raw(Path(work_dir) / "raw", per_class=20 if smoke else 40, seed=seed)
    dataset = Path(work_dir) / "dataset"
    curate_signals(raw, dataset, DatasetDescription("template-example", "CC0-1.0", ["HFM"]), show_progress=False)
    train_x, train_y = load_split(dataset, "train")
    test_x, test_y = load_split(dataset, "test")
    return DomainBench(
        domain="template",
        tokenizer=signal_tokenizer(),
        unlabelled=train_x,
        train_x=train_x,
        train_y=np.array(train_y),
        test_x=test_x,
        test_y=np.array(test_y),
    )
