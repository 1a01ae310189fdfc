from hfm.shared.quickstart import QuickstartContext, _under, run_quickstart


def test_links_of_a_step_point_into_its_folder():
    text = "![a](x.png) [b](https://e.org) ![c](/abs/y.png) [d](#top)"
    assert _under("climate", text) == "![a](climate/x.png) [b](https://e.org) ![c](/abs/y.png) [d](#top)"


def test_quickstart_with_a_domain_filter_writes_an_index(tmp_path):
    index, failed = run_quickstart(QuickstartContext(tmp_path, smoke=True, show_progress=False), only=["nothing"])
    assert failed == []
    assert index.read_text().startswith("# HFM quickstart report")
    assert (tmp_path / "metrics.json").read_text() == "{}\n"
