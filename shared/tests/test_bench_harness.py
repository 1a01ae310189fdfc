"""The benchmark harness: Figures and legacy dicts, one run one file, headline table; trainer-overhead figures."""

from __future__ import annotations

import json

import pytest
import torch
from accelerate.state import AcceleratorState

from hfm.shared import plugins
from hfm.shared.errors import HFMError
from hfm.shared.train import benchmark

FAKE = """
from hfm.shared.eval.figures import Figure

def common(**kw):
    base = dict(metric="F1", higher_is_better=True, baseline_name="STA/LTA", n_test=40, test_unit="events",
                interval_method="paired bootstrap over events", unit="", command="c")
    return Figure(**(base | kw))

def figures():
    return [
        common(name="p win", task="seismic/P picking", value=0.9, baseline=0.8, interval=(0.05, 0.15), headline=True,
               others={"AIC": 0.7}),
        common(name="p rmse", task="seismic/P picking", metric="RMSE", higher_is_better=False, value=0.2,
               baseline=0.3, interval=(-0.15, -0.02), baseline_name="AIC", others={"STA/LTA": 0.25}),
        common(name="s tie", task="seismic/S picking", value=0.5, baseline=0.52, interval=(-0.06, 0.03)),
        common(name="onsets", task="seismic/P picking", value=0.4, baseline=0.0, interval=(0.3, 0.5),
               reference="consistency check", baseline_name="iasp91 onsets"),
    ]

def as_dicts():
    rows = [f.as_dict() for f in figures()[:1]]
    rows[0]["higher_is_better"] = False  # lower is better now: the same interval is a loss
    return rows

def legacy():
    return [{"name": "old", "value": 2.0, "baseline": 1.0, "ratio": 2.0, "unit": "s", "command": "c", "notes": "n1"}]

def incomplete():
    return [{"name": "y", "value": 1.0}]

def reversed_interval():
    return [common(name="r", task="seismic/x", value=1.0, baseline=0.0, interval=(0.2, 0.1))]

def one_bad_dict():
    good = common(name="good", task="seismic/x", value=1.0, baseline=0.0, interval=(0.1, 0.2))
    bad = good.as_dict() | {"name": "bad", "n_test": 0}
    return [good, bad, {"name": "nan", "value": float("nan"), "baseline": 1.0, "unit": "", "command": "c"}]
"""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    (tmp_path / "fake_bench.py").write_text(FAKE)
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("figures", "as_dicts", "legacy", "incomplete")
    monkeypatch.setattr(benchmark, "CORE_BENCHMARKS", {n: f"fake_bench:{n}" for n in names})
    monkeypatch.setattr(benchmark, "commit", lambda: "abc123-dirty")
    monkeypatch.setattr(benchmark, "entry_points", lambda group: [])  # the installed domains' benchmarks take hours
    monkeypatch.setattr(plugins, "domain_targets", lambda kind: {})  # declared in the domains' plugins too
    return tmp_path


def test_harness_runs_figures_and_legacy_dicts_and_reports_failures(fake):
    found = {b.name: b for b in benchmark.discover()}  # installed domains may add their own
    assert found["figures"].origin == "core" and found["legacy"].target == "fake_bench:legacy"
    results = benchmark.run_benchmarks(["figures", "as_dicts", "legacy", "incomplete"])
    by_name = {f["name"]: f for f in results["figures"]}
    assert [f["outcome"] for f in results["figures"]] == [
        "loss",  # as_dicts: lower is better, interval above zero
        "win",
        "win",
        "tie",
        "consistency check",
        "no interval",
    ]
    assert by_name["old"]["legacy"] and by_name["old"]["ratio"] == 2.0 and by_name["old"]["higher_is_better"] is None
    assert not by_name["s tie"]["legacy"] and by_name["s tie"]["difference"] == pytest.approx(-0.02)
    for f in results["figures"]:  # every figure says which commit, machine, load and moment measured it
        assert f["commit"] == "abc123-dirty" and f["machine"] and f["date"][:2] == "20"
        assert f["load_average_1min"] >= 0
    assert results["failures"][0]["benchmark"] == "incomplete"
    assert "lacks baseline, unit, command" in results["failures"][0]["error"]
    assert results["run"]["commit"] == "abc123-dirty" and results["run"]["only"] == sorted(results["run"]["only"])
    assert set(results["run"]["seconds"]) == {"figures", "as_dicts", "legacy", "incomplete"}
    with pytest.raises(HFMError, match="unknown benchmark 'nope'"):
        benchmark.run_benchmarks(["nope"])


def test_a_bad_figure_fails_its_benchmark_with_the_reason(fake, monkeypatch):
    monkeypatch.setattr(benchmark, "CORE_BENCHMARKS", {"bad": "fake_bench:reversed_interval"})
    results = benchmark.run_benchmarks(["bad"])
    assert results["figures"] == [] and "interval (0.2, 0.1) is reversed" in results["failures"][0]["error"]


def test_one_malformed_figure_is_reported_and_the_others_kept(fake, monkeypatch):
    monkeypatch.setattr(benchmark, "CORE_BENCHMARKS", {"mixed": "fake_bench:one_bad_dict"})
    results = benchmark.run_benchmarks(["mixed"])
    assert [f["name"] for f in results["figures"]] == ["good", "nan"]
    assert results["figures"][1]["value"] is None  # strict JSON: NaN written as null
    assert "benchmark mixed: figure 'bad': n_test must be at least 1, got 0" in results["failures"][0]["error"]
    json.dumps(results, allow_nan=False)


def test_a_domains_benchmark_verb_runs_its_own_and_keeps_run_folders_under_out(fake, monkeypatch):
    monkeypatch.setenv("HFM_BENCH_OUT", "")  # recorded, so that what the verb sets is undone after the test
    monkeypatch.delenv("HFM_BENCH_OUT")
    declared = ["figures", "incomplete"]
    with pytest.raises(HFMError, match="--only 'legacy': not a seismic benchmark; one of figures, incomplete"):
        benchmark.run_domain_benchmarks("seismic", declared, ["legacy"], fake / "out")
    assert not (fake / "out").exists()
    results, md_path = benchmark.run_domain_benchmarks("seismic", declared, None, fake / "out")
    assert md_path == fake / "out" / "partial" / "figures+incomplete.md" and md_path.is_file()
    assert results["run"]["only"] == declared and [f["benchmark"] for f in results["failures"]] == ["incomplete"]
    assert benchmark.bench_folder("seismic") == fake / "out" / "seismic"
    monkeypatch.setenv("HFM_BENCH_OUT", str(fake / "elsewhere"))  # set by the user: kept
    benchmark.run_domain_benchmarks("seismic", declared, ["figures"], fake / "out")
    assert benchmark.bench_folder("seismic") == fake / "elsewhere" / "seismic"


def test_one_run_one_file_and_the_markdown_tables(fake):
    whole = benchmark.run_benchmarks()  # every benchmark found
    whole = {**whole, "figures": [f for f in whole["figures"] if f["benchmark"] != "as_dicts"]}
    json_path, md_path = benchmark.write_results(whole, fake / "out")
    assert (json_path.name, md_path.name) == ("results.json", "results.md")
    assert json.loads(json_path.read_text())["run"]["commit"] == "abc123-dirty"
    text = md_path.read_text()
    assert text.index("## Headline") < text.index("## All figures") < text.index("## Consistency checks")
    # headline: the flagged figure of P picking, the first figure of S picking; never the consistency check
    headline = text[text.index("## Headline") : text.index("## All figures")]
    assert (
        "| seismic | P picking | F1 ↑ | 0.9 | STA/LTA 0.8 | +0.1 [+0.05, +0.15] | paired bootstrap over events "
        "| 40 events | **win** |" in headline
    )
    assert "| seismic | S picking | F1 ↑ | 0.5 | STA/LTA 0.52 | -0.02 [-0.06, +0.03] |" in headline
    assert "RMSE" not in headline and "onsets" not in headline
    assert "**Headline**: 1 win, 1 tie, 0 losses of 2 figures; not counted: 0 consistency checks" in text
    assert "**All figures**: 2 wins, 1 tie, 0 losses of 3 figures; not counted: 1 consistency check, 0 without" in text
    assert "; legacy, without direction or interval: 1." in text
    assert "| RMSE ↓ |" not in text and "| figures | p rmse | ↓ | 0.2 | AIC 0.3 |" in text
    assert "| legacy | old | ? | 2 s | 1 | | | ratio 2.000 (no interval) | legacy |" in text
    assert "AIC 0.7" in text  # the other baselines stay visible
    assert "- **old**: n1" in text and "## Failures" in text and "- incomplete: HFMError" in text
    assert "- **p rmse**: compared with AIC (0.3), but STA/LTA scored better in this run" in text

    # a partial run writes beside results.json, never into it
    before = json_path.read_bytes()
    partial = benchmark.run_benchmarks(["legacy", "figures"])
    p_json, p_md = benchmark.write_results(partial, fake / "out")
    assert p_json == fake / "out" / "partial" / "figures+legacy.json" and p_md.suffix == ".md"
    assert json_path.read_bytes() == before
    assert "**Partial run** (`--only figures legacy`)" in p_md.read_text()
    assert not hasattr(benchmark, "merge_results")


def test_commit_names_this_checkout():
    described = benchmark.commit()
    assert described and "unknown" not in described  # a git checkout here, or the installed version


def test_trainer_overhead_figures_are_paired_lower_is_better_figures():
    from hfm.shared.train.overhead import trainer_overhead

    AcceleratorState._reset_state(reset_partial_state=True)
    try:
        figures = trainer_overhead(repeats=2, steps=3, batch=16)
    finally:
        AcceleratorState._reset_state(reset_partial_state=True)
        torch.set_num_threads(1)
    assert [f.metric for f in figures] == ["wall time, whole call", "wall time, training loop only"]
    for figure in figures:
        assert figure.value > 0 and figure.baseline > 0 and figure.n_test == 2 and figure.test_unit == "repeats"
        assert not figure.higher_is_better and figure.task == "core/trainer overhead"
        low, high = figure.interval
        assert low <= high and figure.outcome in ("win", "tie", "loss")
        record = benchmark.to_record(figure, "trainer-overhead")
        assert record["ratio"] == pytest.approx(figure.value / figure.baseline)


def test_tools_bench_and_hfm_bench_write_a_partial_run_beside_results(fake):
    import importlib.util
    from pathlib import Path

    from typer.testing import CliRunner

    from hfm.shared.cli.main import app

    path = Path(__file__).resolve().parents[2] / "tools" / "bench.py"
    spec = importlib.util.spec_from_file_location("tools_bench", path)
    tools_bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tools_bench)
    assert tools_bench.main(["--out", str(fake / "a"), "--only", "legacy"]) == 0
    assert (fake / "a" / "partial" / "legacy.md").exists() and not (fake / "a" / "results.json").exists()
    assert tools_bench.main(["--out", str(fake / "b")]) == 1  # the incomplete benchmark fails the run
    assert json.loads((fake / "b" / "results.json").read_text())["run"]["only"] is None
    result = CliRunner().invoke(app, ["bench", "--out", str(fake / "c"), "--only", "figures"])
    assert result.exit_code == 0, result.output
    assert (fake / "c" / "partial" / "figures.json").exists() and "## Headline" in result.output
