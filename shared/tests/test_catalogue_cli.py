"""`hfm data list | path | verify | fetch` on a small mirror built from copies of real catalogue files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hfm.shared.cli.main import run
from hfm.shared.sample_data import DataUnavailable, require_data

NAME = "seismic/peers"


@pytest.fixture
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    try:
        source = require_data(NAME)
    except DataUnavailable as error:
        pytest.skip(str(error))
    mirror = tmp_path / "mirror"
    shutil.copytree(source, mirror / NAME)
    monkeypatch.setenv("HFM_SHARED_DATA", str(mirror))
    monkeypatch.setenv("HFM_DATA", str(tmp_path / "cache"))
    return mirror


def _hfm(args: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    try:
        run(args)
        code = 0
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    return code, out, err


def test_list_path_verify_and_fetch_from_the_mirror(mirror: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, _ = _hfm(["data", "list"], capsys)
    assert code == 0 and "seismic/peers" in out and "planktonclas-flowcam" in out and "mirror" in out
    assert _hfm(["data", "path", NAME], capsys)[:2] == (0, f"{mirror / NAME}\n")
    code, out, _ = _hfm(["data", "verify", NAME], capsys)
    assert (code, out) == (0, "seismic/peers: 2 of 2 files verified\n")
    code, out, err = _hfm(["data", "verify", "seismic"], capsys)  # a domain: every data set under it
    assert code == 1 and out.splitlines()[2] == "seismic/peers: 2 of 2 files verified" and len(out.splitlines()) == 6
    assert "seismic/seisbench-dummy: not in the mirror nor in the cache" in err
    code, out, _ = _hfm(["data", "fetch", "-q", NAME], capsys)
    assert code == 0 and out.splitlines() == [
        f"seismic/peers: 0 downloaded, 0 cached before, 2 in the mirror -> {mirror / NAME}",
        "  licence: GPL-3.0-only (citation: hfm data list --details)",
    ]
    code, out, _ = _hfm(["data", "list", "--details"], capsys)
    assert "Woollam" in out and "10.1785/0220210324" in out


def test_verify_names_a_damaged_file_and_fails(mirror: Path, capsys: pytest.CaptureFixture) -> None:
    weights = mirror / NAME / "phasenetlight_ethz.pt.v2"
    damaged = bytearray(weights.read_bytes())
    damaged[1000] ^= 0xFF  # same size, other content: only the sha256 can tell
    weights.write_bytes(bytes(damaged))
    code, out, err = _hfm(["data", "verify", NAME], capsys)
    assert code == 1
    assert f"{weights}: sha256 " in err and "is not the catalogue's" in err
    assert "1 of 2 files verified" in out and "verification failed for seismic/peers" in err


def test_missing_data_and_unknown_names_are_one_line_errors(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("HFM_SHARED_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("HFM_DATA", str(tmp_path / "cache"))
    code, _, err = _hfm(["data", "path", NAME], capsys)
    assert code == 1 and "hfm data fetch seismic/peers" in " ".join(err.split())
    code, out, err = _hfm(["data", "verify", NAME], capsys)
    assert code == 1 and out == "seismic/peers: 0 of 2 files verified\n"
    assert (
        err.splitlines()[0]
        == f"seismic/peers: not in the mirror nor in the cache {tmp_path / 'cache'}: run `hfm data fetch seismic/peers`"
    )
    code, _, err = _hfm(["data", "fetch", "seismic/peer"], capsys)
    assert code == 1 and "did you mean seismic/peers" in " ".join(err.split())
