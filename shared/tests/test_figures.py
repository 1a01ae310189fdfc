"""Figure: win / tie / loss by the interval and the direction, consistency checks never counted, JSON round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hfm.shared.eval.figures import Figure, outcome, ratio
from hfm.shared.eval.report import difference_with_interval, headline_figures, headline_table, outcome_summary
from hfm.shared.testing.figures import example_figure


@pytest.mark.parametrize(
    ("interval", "higher_is_better", "expected"),
    [
        ((0.01, 0.05), True, "win"),
        ((0.01, 0.05), False, "loss"),
        ((-0.05, -0.01), True, "loss"),
        ((-0.05, -0.01), False, "win"),
        ((-0.01, 0.05), True, "tie"),
        ((-0.01, 0.05), False, "tie"),
        ((0.0, 0.05), True, "tie"),  # touching zero is no evidence
        ((math.nan, math.nan), True, "no interval"),
    ],
)
def test_outcome_is_decided_by_the_interval_and_the_direction(interval, higher_is_better, expected):
    assert outcome(interval, higher_is_better) == expected


def test_point_values_never_decide():
    # hfm's RMSE is lower (better) but the interval crosses zero: a tie, not a win
    figure = example_figure(value=0.40, baseline=0.45, interval=(-0.09, 0.01))
    assert figure.difference == pytest.approx(-0.05) and figure.outcome == "tie"
    check = example_figure(reference="consistency check", interval=(-0.08, -0.02))
    assert check.outcome == "consistency check"


def test_validation_names_the_figure_and_the_field():
    with pytest.raises(ValueError, match=r"figure 'f': interval \(0.1, -0.1\) is reversed"):
        example_figure(interval=(0.1, -0.1))
    with pytest.raises(ValueError, match="figure 'f': n_test must be at least 1"):
        example_figure(n_test=0)
    with pytest.raises(ValueError, match="figure 'f': reference must be one of"):
        example_figure(reference="iasp91")
    with pytest.raises(ValueError, match="figure 'f': higher_is_better must be a bool"):
        example_figure(higher_is_better="yes")
    with pytest.raises(ValueError, match="n_effective must be positive"):
        example_figure(n_effective=0)


def test_a_stronger_other_baseline_is_named():
    figure = example_figure(others={"climatology": 1.7, "persistence": 0.41, "broken": math.nan})
    assert figure.stronger_others() == ["persistence"]  # RMSE 0.41 < the named baseline's 0.45
    assert example_figure(higher_is_better=True, value=0.9, baseline=0.8, others={"x": 0.85}).stronger_others() == ["x"]


def test_json_round_trip_with_numpy_values_and_a_missing_interval():
    figure = example_figure(
        value=np.float64(0.4), higher_is_better=np.bool_(False), n_effective=41.5, others={"climatology": 1.7}
    )
    assert isinstance(figure.higher_is_better, bool)
    data = json.loads(json.dumps(figure.as_dict()))
    assert data["outcome"] == "win" and data["difference"] == pytest.approx(-0.05)
    assert data["ratio"] == pytest.approx(0.4 / 0.45)
    assert Figure.from_dict(data | {"benchmark": "climate-era5", "commit": "abc"}) == figure
    missing = json.loads(json.dumps(example_figure(interval=(math.nan, math.nan)).as_dict()))
    assert missing["interval"] == [None, None] and missing["outcome"] == "no interval"
    assert Figure.from_dict(missing).outcome == "no interval"
    unscored = example_figure(baseline=math.nan, others={"climatology": math.nan}, interval=(math.nan, math.nan))
    text = json.dumps(unscored.as_dict(), allow_nan=False)  # strict JSON: no NaN tokens
    back = Figure.from_dict(json.loads(text))
    assert math.isnan(back.baseline) and math.isnan(back.others["climatology"]) and back.outcome == "no interval"
    assert ratio(1.0, 0.0) is None and ratio(math.inf, 1.0) is None


def test_headline_table_and_summary():
    figures = [
        example_figure(name="a", headline=True),
        example_figure(name="b", metric="ACC", higher_is_better=True, value=0.9, baseline=0.92, interval=(-0.03, 0.01)),
        example_figure(name="c", task="climate/downscaling", metric="RMSE", interval=(0.01, 0.03), n_effective=40.2),
        example_figure(name="d", task="climate/downscaling", reference="consistency check"),
    ]
    assert [f.name for f in headline_figures(figures)] == ["a", "c"]
    table = headline_table(figures)
    assert table[2] == (
        "| climate | forecast 6 h | RMSE ↓ | 0.4 | damped persistence 0.45 | -0.05 [-0.08, -0.02] | "
        "moving-block bootstrap, blocks of 12 h | 168 forecasts | **win** |"
    )
    assert "| 168 forecasts (effective 40) | **loss** |" in table[3] and len(table) == 4
    assert outcome_summary(figures) == (
        "1 win, 1 tie, 1 loss of 3 figures; not counted: 1 consistency check, 0 without interval"
    )
    assert difference_with_interval(example_figure(interval=(math.nan, math.nan))) == "-0.05 (no interval)"


def test_quickstart_report_opens_with_the_summary_and_tables_each_sections_figures():
    from hfm.shared.quickstart import figure_section, summary_section

    climate = [example_figure(name="a"), example_figure(name="b", task="climate/downscaling", interval=(0.01, 0.03))]
    plankton = [
        example_figure(task="plankton/classification", metric="macro F1", higher_is_better=True, interval=(-0.1, 0.2))
    ]
    section = figure_section(climate)
    assert section.startswith("\n### Headline figures\n\n1 win, 0 ties, 1 loss of 2 figures;")
    assert "| climate | downscaling | RMSE ↓ |" in section and "**loss** |" in section
    assert figure_section([]) == ""
    summary = summary_section(climate + plankton, failed=["seismic"])
    assert summary.startswith("## Summary\n")
    assert "1 win, 1 tie, 1 loss of 3 figures;" in summary and "**Failed**: seismic" in summary
    assert "| plankton | classification | macro F1 ↑ |" in summary and summary.count("| climate |") == 2


def test_quickstart_index_opens_with_the_summary_and_writes_figures_json(tmp_path):
    from hfm.shared.quickstart import QuickstartContext, run_quickstart

    index, failed = run_quickstart(QuickstartContext(tmp_path, smoke=True, show_progress=False), only=["nothing"])
    assert failed == [] and index.read_text().startswith("# HFM quickstart report\n\n(smoke run")
    assert "## Summary" in index.read_text() and "No section reported headline figures." in index.read_text()
    assert json.loads((tmp_path / "figures.json").read_text()) == []
