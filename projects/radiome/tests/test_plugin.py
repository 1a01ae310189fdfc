from hfm.shared.plugins import installed_domains


def test_radiome_is_discovered_through_its_entry_point():
    found = {d.name: d for d in installed_domains()}
    assert "radiome" in found
    assert found["radiome"].distribution == "hfm-radiome"
    assert found["radiome"].load().name == "radiome"
