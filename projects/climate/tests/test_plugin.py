from hfm.shared.plugins import installed_domains


def test_climate_is_discovered_through_its_entry_point():
    found = {d.name: d for d in installed_domains()}
    assert "climate" in found
    assert found["climate"].distribution == "hfm-climate"
    assert found["climate"].load().name == "climate"
