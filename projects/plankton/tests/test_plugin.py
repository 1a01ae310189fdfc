from hfm.shared.plugins import installed_domains


def test_plankton_is_discovered_through_its_entry_point():
    found = {d.name: d for d in installed_domains()}
    assert "plankton" in found
    assert found["plankton"].distribution == "hfm-plankton"
    assert found["plankton"].load().name == "plankton"
