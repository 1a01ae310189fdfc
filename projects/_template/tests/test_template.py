"""The template passes the conformance kit and runs end to end: curate, pretrain, fine-tune, evaluate, replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import hfm.template
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.shard_curation import Sharding
from hfm.shared.shortcuts import RunSettings
from hfm.shared.testing.conformance import check_curation, check_domain, check_tokenizer_round_trip
from hfm.shared.testing.replay import check_replay
from hfm.template.curate import curate_signals
from hfm.template.experiments import score
from hfm.template.plugin import plugin
from hfm.template.synthetic import write_example_raw
from hfm.template.tokenizer import signal_tokenizer
from hfm.template.training import finetune, pretrain

DESCRIBE = DatasetDescription("example", "CC0-1.0", ["HFM"])


def test_the_template_conforms():
    assert check_domain(plugin, Path(hfm.template.__file__).parent) == []
    sample = np.random.default_rng(0).normal(size=(1, 256)).astype(np.float32)
    assert check_tokenizer_round_trip(signal_tokenizer(), sample) == []


def test_curation_is_deterministic_and_counts_every_input(tmp_path):
    raw = write_example_raw(tmp_path / "raw", per_class=4)
    (raw / "sine" / "broken.npy").write_bytes(b"not an array")
    (raw / "sine" / "notes.txt").write_text("not a signal")

    def run(source: Path, out: Path):
        return curate_signals(source, out, DESCRIBE, show_progress=False).summary

    assert check_curation(run, raw, tmp_path, expected_inputs=14) == []
    summary = run(raw, tmp_path / "again")
    assert (summary.written, summary.quarantined) == (12, 2)


def test_pretrain_finetune_evaluate_and_replay(tmp_path):
    raw = write_example_raw(tmp_path / "raw", per_class=24)
    dataset = tmp_path / "dataset"
    curate_signals(raw, dataset, DESCRIBE, show_progress=False)
    pre = pretrain(dataset, tmp_path / "pre", RunSettings(steps=20, progress=False))
    tuned = finetune(dataset, tmp_path / "tune", RunSettings(steps=40, progress=False), init=pre.model_dir)
    scores = score(tuned.model_dir, dataset)
    assert scores.n_test == len(scores.hfm_correct) > 10
    assert scores.hfm_correct.mean() > 1 / 3 + 0.1  # well above chance with three classes
    assert check_replay(tmp_path / "pre", tmp_path / "replay") == []


def test_a_domain_copied_from_the_template_passes_the_kit(tmp_path, monkeypatch):
    """What docs/development.md tells a contributor to do: copy, rename, and the kit passes before any filling."""
    import importlib
    import shutil
    import sys

    source = Path(hfm.template.__file__).parent
    target = tmp_path / "src" / "hfm" / "toyfield"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    for path in target.glob("*.py"):
        path.write_text(path.read_text().replace("hfm.template", "hfm.toyfield").replace("template", "toyfield"))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    importlib.invalidate_caches()
    toy = importlib.import_module("hfm.toyfield.plugin").plugin
    try:
        assert toy.name == "toyfield" and toy.tasks == ("toyfield-classify", "toyfield-mae")
        assert check_domain(toy, target) == []
    finally:
        for name in [m for m in sys.modules if m.startswith("hfm.toyfield")]:
            del sys.modules[name]


def test_sharded_curation_reads_like_one_piece(tmp_path):
    from hfm.template.data import classes_of, load_split

    raw = write_example_raw(tmp_path / "raw", per_class=6)
    whole = curate_signals(raw, tmp_path / "whole", DESCRIBE, show_progress=False)
    sharded = curate_signals(raw, tmp_path / "sharded", DESCRIBE, show_progress=False, sharding=Sharding(5, workers=2))
    assert sharded.summary.written == whole.summary.written == 18 and sharded.summary.shards == 4
    assert sharded.summary.splits == whole.summary.splits
    for split in ("train", "test"):
        x_whole, labels_whole = load_split(tmp_path / "whole", split)
        x_sharded, labels_sharded = load_split(tmp_path / "sharded", split)
        assert labels_sharded == labels_whole and bool((x_sharded == x_whole).all())
    assert classes_of(tmp_path / "sharded") == ["sawtooth", "sine", "square"]
