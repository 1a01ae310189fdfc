"""The data catalogue: complete and well-formed entries, in step with the mirror, and the lookups require_data and
shared_data_dir make through it (mirror first, then a complete cache copy, else the fetch command)."""

from __future__ import annotations

import importlib.util
import json
import re
from importlib.resources import files as package_files
from pathlib import Path

import pytest

from hfm.shared.catalogue import DataUnavailable, load_catalogue, locate, mirror_dir
from hfm.shared.catalogue.entries import PackagedData
from hfm.shared.errors import HFMError
from hfm.shared.sample_data import require_data, shared_data_dir

ROOT = Path(__file__).resolve().parents[2]
# Files the mirror derived itself (the MANIFEST says "DERIVED"): no public origin, only mirrors provide them.
DERIVED = {"plankton/whoi-wiki/labels.csv"}
ORIGIN = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/\S+$")


def test_every_entry_has_files_checksums_origins_licence_citation_and_use() -> None:
    catalogue = load_catalogue()
    assert len(catalogue.datasets) == 18
    assert sum(len(d.files) for d in catalogue.datasets.values()) == 2697
    paths = [f.path for d in catalogue.datasets.values() for f in d.files]
    assert len(paths) == len(set(paths))  # each file belongs to one data set
    for dataset in catalogue.datasets.values():
        assert dataset.title and dataset.licence and dataset.citation and dataset.use, dataset.name
        assert dataset.files, dataset.name
        for data_file in dataset.files:
            assert data_file.path.startswith(dataset.name.split("/")[0] + "/"), data_file.path
            assert data_file.size > 0 and re.fullmatch(r"[0-9a-f]{64}", data_file.sha256), data_file.path
            assert ORIGIN.match(data_file.url) or data_file.path in DERIVED, data_file.url
    for entry in catalogue.packaged.values():
        assert entry.install.startswith(("pip install ", "apt-get install ")), entry.name
        assert entry.licence and entry.citation and entry.use and (entry.module or entry.debian), entry.name
    assert catalogue.datasets["plankton/bering-sea"].doi == "10.6084/m9.figshare.8146283"


def test_unknown_names_suggest_the_closest() -> None:
    with pytest.raises(HFMError, match="did you mean seismic/peers"):
        load_catalogue().get("seismic/peer")


def test_a_packaged_entry_finds_its_installed_package() -> None:
    yaml_package = PackagedData("x", "t", "pip install pyyaml", "MIT", "c", "u", module="yaml")
    assert yaml_package.location() == Path(importlib.util.find_spec("yaml").origin).parent
    absent = PackagedData("x", "t", "pip install nothing", "MIT", "c", "u", module="no_such_module_hfm")
    assert absent.location() is None


def test_the_catalogue_is_in_step_with_the_mirror() -> None:
    """Rebuilt from the mirror's MANIFEST.tsv files and bytes, the catalogue is the one shipped."""
    mirror = mirror_dir(ROOT)
    tool = ROOT / "tools" / "build_data_catalogue.py"
    if mirror is None or not tool.exists():
        pytest.skip("no mirror (../shared/data or HFM_SHARED_DATA) beside this checkout")
    spec = importlib.util.spec_from_file_location("build_data_catalogue", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shipped = json.loads(package_files("hfm.shared.catalogue").joinpath("files.json").read_text())
    assert module.build(mirror) == shipped


@pytest.fixture
def no_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No mirror, an empty cache; returns the cache."""
    monkeypatch.setenv("HFM_SHARED_DATA", str(tmp_path / "no-mirror"))
    monkeypatch.setenv("HFM_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_missing_data_names_the_fetch_command(no_mirror: Path) -> None:
    with pytest.raises(DataUnavailable, match=r"run `hfm data fetch seismic/dfdp-eqcorrscan` \(or set HFM_SHARED_DATA"):
        require_data("seismic/dfdp-eqcorrscan/REA/TEST_")
    with pytest.raises(DataUnavailable, match=r"`hfm data fetch climate/era5-2mt-2019-03-uk`"):
        require_data("climate/era5-2mt-2019-03-uk.grib")
    with pytest.raises(DataUnavailable, match="not in the data catalogue"):
        require_data("seismic/no-such-set")
    assert shared_data_dir() is None


def test_a_folder_counts_in_the_cache_only_when_complete(no_mirror: Path) -> None:
    peers = load_catalogue().datasets["seismic/peers"].files
    first = no_mirror / peers[0].path
    first.parent.mkdir(parents=True)
    first.write_bytes(b"\0" * peers[0].size)
    assert locate(peers[0].path) == first  # the one file asked for is there
    with pytest.raises(DataUnavailable, match="hfm data fetch seismic/peers"):
        locate("seismic/peers")  # the folder is not: half a data set is never read as one
    (no_mirror / peers[1].path).write_bytes(b"\0" * peers[1].size)
    assert locate("seismic/peers") == no_mirror / "seismic" / "peers"
    assert shared_data_dir() == no_mirror  # code that joins paths itself finds the cache


def test_the_mirror_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "seismic" / "peers").mkdir(parents=True)
    monkeypatch.setenv("HFM_SHARED_DATA", str(mirror))
    monkeypatch.setenv("HFM_DATA", str(tmp_path / "cache"))
    assert require_data("seismic/peers") == mirror / "seismic" / "peers"
    assert shared_data_dir() == mirror


def test_the_docs_list_every_entry_with_its_licence() -> None:
    docs = ROOT / "docs" / "data.md"
    if not docs.exists():
        pytest.skip("docs/data.md is not beside this package (installed from a wheel)")
    text = docs.read_text()
    catalogue = load_catalogue()
    for entry in [*catalogue.datasets.values(), *catalogue.packaged.values()]:
        assert f"`{entry.name}`" in text, entry.name
        assert entry.licence in text, entry.name


def test_every_data_path_the_code_asks_for_is_catalogued() -> None:
    """Each literal `require_data("...")` in the checkout names catalogued files, so `hfm data fetch` can get them."""
    sources = [p for top in ("shared", "projects", "packages") for p in (ROOT / top).rglob("*.py")]
    if not any("projects" in p.parts for p in sources):
        pytest.skip("not a full checkout")
    asked = set()
    for source in sources:
        if source.name != Path(__file__).name:  # this file asks for a missing set on purpose
            asked |= set(re.findall(r"require_data\(\s*\"([^\"]+)\"", source.read_text(encoding="utf-8")))
    assert "seismic/seisbench-dummy" in asked
    catalogue = load_catalogue()
    assert [path for path in sorted(asked) if not catalogue.files_under(path)] == []
