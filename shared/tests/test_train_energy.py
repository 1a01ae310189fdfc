"""Energy is read from counters or recorded as unknown with the reason; RAPL wrap-around is handled."""

from __future__ import annotations

import pytest

from hfm.shared.train.energy import EnergyMeter, RaplMeter, combine


def fake_zone(root, name, energy_uj, max_uj):
    zone = root / name
    zone.mkdir(parents=True)
    (zone / "energy_uj").write_text(f"{energy_uj}\n")
    (zone / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return zone


def test_absent_counters_are_unknown_with_reasons(tmp_path):
    meter = EnergyMeter(gpu_index=None, read_cpu=True, rapl_root=tmp_path)
    meter.start()
    report = combine([meter.report()])
    assert report["cpu"] == {"joules": None, "reason": f"no RAPL package zones under {tmp_path}", "processes": 1}
    assert report["gpu"] == {"joules": None, "reason": "no GPU used by this process", "processes": 1}


def test_unreadable_rapl_is_unknown(tmp_path):
    zone = tmp_path / "intel-rapl:0"
    (zone / "energy_uj").mkdir(parents=True)  # unreadable as a file, even for root (unlike chmod 0)
    meter = RaplMeter(tmp_path)
    meter.start()
    assert meter.joules() is None and meter.reason.startswith("RAPL counters not readable (IsADirectoryError")


def test_rapl_packages_summed_and_wrap_around_handled(tmp_path):
    package0 = fake_zone(tmp_path, "intel-rapl:0", 900_000_000, 1_000_000_000)
    package1 = fake_zone(tmp_path, "intel-rapl:1", 5_000_000, 1_000_000_000)
    fake_zone(tmp_path, "intel-rapl:0:0", 1, 1_000_000_000)  # a sub-zone (cores): inside package 0, not added
    meter = RaplMeter(tmp_path)
    meter.start()
    (package0 / "energy_uj").write_text("50000000\n")  # wrapped: 100 J to the wrap + 50 J after it
    (package1 / "energy_uj").write_text("7000000\n")  # +2 J
    meter.sample()
    (package0 / "energy_uj").write_text("60000000\n")  # +10 J
    meter.sample()
    assert meter.joules() == pytest.approx(162.0)
    assert meter.reason is None


def test_combine_sums_processes_and_stays_unknown_if_one_lacks_a_counter():
    both = combine([{"gpu_joules": 10.0, "gpu_reason": None}, {"gpu_joules": 5.5, "gpu_reason": None}])
    assert both["gpu"] == {"joules": 15.5, "reason": None, "processes": 2}
    partial = combine([{"gpu_joules": 10.0, "gpu_reason": None}, {"gpu_joules": None, "gpu_reason": "no NVML"}])
    assert partial["gpu"]["joules"] is None and partial["gpu"]["reason"] == "no NVML"
    assert combine([])["cpu"] == {"joules": None, "reason": "not measured", "processes": 0}
