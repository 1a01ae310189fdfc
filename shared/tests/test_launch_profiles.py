"""Site profiles: shipped ones load, user files add or override them, bad files are named with field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfm.shared.errors import HFMError
from hfm.shared.launch import list_sites, load_site


@pytest.fixture
def user_sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "sites"
    folder.mkdir()
    monkeypatch.setenv("HFM_SITES_PATH", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return folder


def test_shipped_profiles_carry_the_documented_hardware(user_sites: Path) -> None:
    expected = {
        "juwels-booster": ("booster", 4, "x86_64", "i"),
        "jureca-dc": ("dc-gpu", 4, "x86_64", "i"),
        "horeka": ("accelerated", 4, "x86_64", ""),
        "jupiter": ("booster", 4, "aarch64", "i"),
    }
    for name, (partition, gpus, arch, suffix) in expected.items():
        site = load_site(name)
        assert (site.partition, site.gpus_per_node, site.arch, site.interconnect_suffix) == (
            partition,
            gpus,
            arch,
            suffix,
        )
        assert site.env["HF_HUB_OFFLINE"] == "1"
    assert load_site("local").scheduler == "local"
    assert load_site("local-slurm").processes_on_node() == 2


def test_user_profile_extends_a_shipped_one(user_sites: Path) -> None:
    (user_sites / "my-booster.yaml").write_text("extends: juwels-booster\npartition: develbooster\n")
    site = load_site("my-booster")
    assert site.name == "my-booster"
    assert site.partition == "develbooster"
    assert site.gpus_per_node == 4
    assert "my-booster" in list_sites()


def test_user_profile_overrides_a_shipped_name(user_sites: Path) -> None:
    (user_sites / "horeka.yaml").write_text("extends: generic-slurm\npartition: accelerated-h100\ngpus_per_node: 4\n")
    assert load_site("horeka").partition == "accelerated-h100"


def test_bad_field_names_file_and_field(user_sites: Path) -> None:
    (user_sites / "bad.yaml").write_text("name: bad\ngpus_per_node: -1\n")
    with pytest.raises(HFMError, match=r"bad\.yaml: field 'gpus_per_node': .*greater than or equal to 0"):
        load_site("bad")
    (user_sites / "typo.yaml").write_text("partiton: gpu\n")
    with pytest.raises(HFMError, match=r"typo\.yaml: field 'partiton': Extra inputs are not permitted"):
        load_site("typo")
    (user_sites / "time.yaml").write_text("default_time: 2h\n")
    with pytest.raises(HFMError, match=r"time\.yaml: field 'default_time'.*not a SLURM time"):
        load_site("time")


def test_extends_cycle_and_unknown_site(user_sites: Path) -> None:
    (user_sites / "a.yaml").write_text("extends: b\n")
    (user_sites / "b.yaml").write_text("extends: a\n")
    with pytest.raises(HFMError, match="cycle through a -> b -> a"):
        load_site("a")
    with pytest.raises(HFMError, match=r"unknown site 'nowhere'; available: .*juwels-booster"):
        load_site("nowhere")
