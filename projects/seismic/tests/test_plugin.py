from hfm.shared.plugins import installed_domains


def test_seismic_is_discovered_through_its_entry_point():
    found = {d.name: d for d in installed_domains()}
    assert "seismic" in found
    assert found["seismic"].distribution == "hfm-seismic"
    assert found["seismic"].load().name == "seismic"
