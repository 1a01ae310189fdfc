from hfm.shared.plugins import installed_domains


def test_synergy_sees_all_four_pilot_domains():
    assert {d.name for d in installed_domains()} >= {"seismic", "radiome", "climate", "plankton"}
