"""`run_pick_benchmark` from the shared data to its report, at `PickBenchConfig.quick()` (about a minute): every arm
runs, every input of curation is accounted for, the ensembles' members and the label-efficiency starts are the ones
the config names. The figures of so short a run mean nothing; their shape and bookkeeping do."""

from __future__ import annotations

import json
import math
import re

from hfm.seismic.benchmarks.picking import HFM, SCRATCH, PickBenchConfig, run_pick_benchmark

CLASSIC = {"STA/LTA + AIC", "pk_baer (ObsPy)"}


def test_the_quick_benchmark_runs_every_arm_and_accounts_for_every_input(tmp_path, seismic_dir):
    # seismic_dir: skips without the shared data
    config = PickBenchConfig.quick()
    report, figures = run_pick_benchmark(tmp_path, config)

    for source, line in report.curation.items():  # "inputs N = written W + quarantined Q (reasons: ...)"
        inputs, written, quarantined = map(
            int, re.match(r"inputs (\d+) = written (\d+) \+ quarantined (\d+)", line).groups()
        )
        assert inputs == written + quarantined > 0, source
        reasons = re.findall(r": (\d+)", line.split("reasons", 1)[1]) if quarantined else []
        assert sum(map(int, reasons)) == quarantined, source
    assert report.corpus["total windows"] == sum(v for k, v in report.corpus.items() if k != "total windows")

    three, vertical = report.tables["DFDP"], report.tables["DFDP (Z only)"]
    assert {HFM, SCRATCH, "ar_pick (ObsPy)"} | CLASSIC <= set(three)
    assert HFM in vertical and SCRATCH not in vertical and "ar_pick (ObsPy)" not in vertical  # 3-component only
    assert three["_n"]["records"] == vertical["_n"]["records"] == 24  # the smoke subset of the DFDP records
    assert three["_n"]["P picks"] > 0 and three["_n"]["S picks"] > 0

    # Each ensemble's members were fine-tuned in their own runs; member 0 keeps the folders of the single picker.
    for run in ("finetune", "scratch", "finetune-member1", "scratch-member1", "pretrain", "pretrain-member1"):
        assert (tmp_path / run / "final" / "model.safetensors").is_file(), run
    assert any(f"ensemble of {config.ensemble_size} pickers" in note for note in report.notes)

    # Label efficiency: every fraction, seed and start once; the i-th seed's pretrained picker from file i mod 2.
    rows = report.efficiency
    assert len(rows) == len(config.fractions) * len(config.efficiency_seeds) * 2
    starts = {(r["fraction"], r["seed"]): r.get("pretraining") for r in rows if r["start"] == "pretrained"}
    assert starts == {(f, s): ["pretrain", "pretrain-member1"][s] for f in config.fractions for s in (0, 1)}
    assert all("pretraining" not in r for r in rows if r["start"] == "scratch")
    assert [e["fraction"] for e in report.efficiency_summary] == list(config.fractions)

    assert figures and all(f.n_test > 0 for f in figures)
    for figure in figures:
        low, high = figure.interval
        assert math.isfinite(figure.value) and low <= high, figure.name
    stages = {"curate", "pretrain + scratch + fixed scores", "finetune", "evaluate", "consistency", "label efficiency"}
    assert set(report.timings) == stages
    saved = json.loads((tmp_path / "benchmark.json").read_text())
    assert len(saved["figures"]) == len(figures) and saved["efficiency"] == json.loads(json.dumps(rows))
    assert "label efficiency" in (tmp_path / "benchmark.md").read_text().lower()


def test_the_harness_keeps_the_whole_report_where_hfm_bench_out_says(tmp_path, monkeypatch):
    from hfm.seismic.benchmarks import keep_report
    from hfm.shared.train.benchmark import bench_folder

    run = tmp_path / "run"
    run.mkdir()
    (run / "benchmark.json").write_text('{"efficiency": [1, 2]}')
    (run / "benchmark.md").write_text("# report\n")
    monkeypatch.setenv("HFM_BENCH_OUT", str(tmp_path / "out"))
    assert bench_folder("seismic") == tmp_path / "out" / "seismic"
    keep_report(run, bench_folder("seismic"))
    assert json.loads((tmp_path / "out" / "seismic" / "benchmark.json").read_text()) == {"efficiency": [1, 2]}
    assert (tmp_path / "out" / "seismic" / "benchmark.md").read_text() == "# report\n"
    monkeypatch.delenv("HFM_BENCH_OUT")
    assert bench_folder("seismic").as_posix() == "benchmarks/seismic"
