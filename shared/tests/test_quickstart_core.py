from hfm.shared.quickstart import QuickstartContext, _under, run_quickstart


def test_links_of_a_step_point_into_its_folder():
    text = "![a](x.png) [b](https://e.org) ![c](/abs/y.png) [d](#top)"
    assert _under("climate", text) == "![a](climate/x.png) [b](https://e.org) ![c](/abs/y.png) [d](#top)"


def test_quickstart_with_a_domain_filter_writes_an_index(tmp_path):
    index, failed = run_quickstart(QuickstartContext(tmp_path, smoke=True, show_progress=False), only=["nothing"])
    assert failed == []
    assert index.read_text().startswith("# HFM quickstart report")
    assert (tmp_path / "metrics.json").read_text() == "{}\n"


def test_sections_start_fresh_and_foreign_folders_are_never_cleared(tmp_path):
    import pytest

    from hfm.shared.errors import HFMError
    from hfm.shared.quickstart import _fresh

    section = _fresh(tmp_path / "climate")
    (section / "run").mkdir()
    (section / "run" / "checkpoint.safetensors").write_bytes(b"stale")
    assert sorted(p.name for p in _fresh(tmp_path / "climate").iterdir()) == [".hfm-quickstart"]  # cleared
    mine = tmp_path / "seismic"
    mine.mkdir()
    (mine / "my-waveforms.mseed").write_bytes(b"data")
    with pytest.raises(HFMError, match="not written by hfm quickstart"):
        _fresh(mine)
    assert (mine / "my-waveforms.mseed").read_bytes() == b"data"
