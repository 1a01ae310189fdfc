"""The shared defences (issue 20): keys, path guard, lock, atomic replacement, budget, inputs, header checks."""

from __future__ import annotations

import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hfm.shared.arraystore import ArrayStoreWriter
from hfm.shared.contracts import ArraySpec, Sample, SampleContract
from hfm.shared.curation import MANIFEST, CurationItem, curate
from hfm.shared.errors import HFMError, InvalidInput
from hfm.shared.npz_source import npz_items
from hfm.shared.safety import FolderLock, KeyRegistry, inside, safe_child, safe_key
from hfm.shared.safety.headers import check_grib_messages, check_nifti_header, check_numpy_file, sniff
from hfm.shared.safety.text import check_utf8_text

CONTRACT = SampleContract(name="t", arrays=[ArraySpec(name="data", dims=["x"], dtype="float32", shape=["x"])])


def _item(key: str, value: float = 1.0, sources=()) -> CurationItem:
    return CurationItem(key, list(sources), lambda: Sample(arrays={"data": np.full(4, value, np.float32)}))


def _run(items, out: Path):
    return curate(items, out, CONTRACT, ArrayStoreWriter(), show_progress=False, detect_duplicates=True)


def _report(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "quarantine" / "report.csv")


def test_keys_that_sanitise_alike_are_quarantined_not_overwritten(tmp_path):
    summary = _run([_item("col a", 1), _item("col_a", 2), _item("Col_A", 3), _item("___", 4)], tmp_path / "out")
    assert (summary.written, summary.quarantined) == (1, 3)
    assert len(list((tmp_path / "out" / "samples").iterdir())) == 1
    assert summary.reasons == {"bad_key": 1, "key_collision": 2}
    registry = KeyRegistry()
    assert registry.claim("a/b") == "a_b"
    with pytest.raises(InvalidInput, match="already taken by key 'a/b'"):
        registry.claim("a b")


def test_quarantine_copies_stay_inside_whatever_the_key(tmp_path):
    source = tmp_path / "raw.bin"
    source.write_bytes(b"x")
    bad = lambda: (_ for _ in ()).throw(InvalidInput("bad", code="corrupt"))  # noqa: E731
    keys = ["../../../X/rel", str(tmp_path / "abs" / "path"), "..", "a/../../b"]
    items = [CurationItem(k, [source], bad) for k in keys]
    out = tmp_path / "deep" / "out"
    summary = _run(items, out)
    assert summary.quarantined == 4
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != source]
    assert written and all(inside(out, p) or p.name == ".out.lock" for p in written)
    assert not (tmp_path / "X").exists() and not (tmp_path / "abs").exists() and not (tmp_path / "b").exists()
    assert safe_key("../../../X/rel") == "X_rel"
    with pytest.raises(HFMError, match="leaves the folder"):
        safe_child(out, "../x")


def test_duplicate_content_is_quarantined(tmp_path):
    summary = _run([_item("a", 1), _item("b", 1), _item("c", 2)], tmp_path / "out")
    assert (summary.written, summary.reasons) == (2, {"duplicate": 1})
    assert "same content as 'a'" in _report(tmp_path / "out")["reason"][0]


def test_second_curation_into_a_locked_folder_is_refused_with_pid_and_host(tmp_path):
    out = tmp_path / "out"
    with FolderLock(out), pytest.raises(HFMError, match=f"in use by PID {os.getpid()} on host"):
        _run([_item("a")], out)
    assert _run([_item("a")], out).written == 1  # released: the next run goes ahead


def test_failed_or_killed_curation_keeps_the_previous_dataset_and_never_blocks(tmp_path):
    out = tmp_path / "out"
    _run([_item("a", 1), _item("b", 2)], out)
    before = sorted(p.name for p in (out / "samples").iterdir())

    def dies() -> Sample:
        raise KeyboardInterrupt  # a kill as Python sees it; not an input problem

    with pytest.raises(KeyboardInterrupt):
        _run([_item("c", 3), CurationItem("d", [], dies)], out)
    assert sorted(p.name for p in (out / "samples").iterdir()) == before
    assert not (tmp_path / ".out.hfm-new").exists()
    # SIGKILL between the two renames: the old dataset aside, no dataset under its name, a half-written new one
    os.replace(out, tmp_path / ".out.hfm-old")
    (tmp_path / ".out.hfm-new" / "samples").mkdir(parents=True)
    assert _run([_item("e", 5)], out).written == 1
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["e.safetensors"]
    assert not (tmp_path / ".out.hfm-old").exists() and not (tmp_path / ".out.hfm-new").exists()


def test_a_foreign_folder_is_still_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("mine")
    with pytest.raises(HFMError, match="not an earlier curation output"):
        _run([_item("a")], out)
    assert (out / "thesis.tex").read_text() == "mine"


def test_time_and_memory_limits_per_item(tmp_path, monkeypatch):
    monkeypatch.setenv("HFM_FILE_TIMEOUT_S", "1")
    monkeypatch.setenv("HFM_FILE_MEMORY_BYTES", str(64 << 20))

    def slow() -> Sample:
        time.sleep(30)
        raise AssertionError("not reached")

    def greedy() -> Sample:
        return Sample(arrays={"data": np.ones(1 << 28, np.float32)})  # 1 GiB

    started = time.monotonic()
    summary = _run([CurationItem("slow", [], slow), CurationItem("greedy", [], greedy), _item("fine")], tmp_path / "o")
    assert time.monotonic() - started < 15  # the 30 s reader was stopped at 1 s
    assert (summary.written, summary.reasons) == (1, {"memory_limit": 1, "time_limit": 1})


def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def test_arrays_folder_counts_every_file(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    good = _npz_bytes(data=np.arange(4, dtype=np.float32))
    (raw / "good.npz").write_bytes(good)
    (raw / "notes.dat").write_bytes(b"1 2 3")
    (raw / "scan.nii").write_bytes(b"\0" * 400)
    (raw / "image.npz").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    (raw / "big.npz").write_bytes(_npz_bytes(data=np.zeros(1 << 20, np.float32)))  # 4 MiB decoded
    (raw / os.fsdecode(b"caf\xe9.npz")).write_bytes(_npz_bytes(data=np.ones(4, np.float32)))
    outside = tmp_path / "secret.npz"
    outside.write_bytes(_npz_bytes(data=np.full(4, 7, np.float32)))
    (raw / "link.npz").symlink_to(outside)
    monkeypatch.setenv("HFM_MAX_DECODED_BYTES", str(1 << 20))
    items = npz_items(raw)
    summary = _run(items, tmp_path / "out")
    assert summary.inputs == 7 == summary.written + summary.quarantined
    assert summary.written == 1  # good.npz; the Latin-1-named file is quarantined, not a crash
    report = _report(tmp_path / "out").set_index("key")
    assert report.loc["notes.dat", "code"] == report.loc["scan.nii", "code"] == "unsupported_format"
    assert report.loc["image", "code"] == "not_npz" and "PNG signature" in report.loc["image", "reason"]
    assert report.loc["big", "code"] == "too_large" and "4.0 MiB" in report.loc["big", "reason"]
    assert report.loc["link.npz", "code"] == "symlink_escape"
    assert report.loc["caf\\xe9", "code"] == "bad_key" and "not UTF-8" in report.loc["caf\\xe9", "reason"]
    copied = [p.name for p in (tmp_path / "out" / "quarantine" / "files").rglob("*") if p.is_file()]
    assert "link.npz" not in copied  # the outside file is neither read nor copied


def test_non_utf8_metadata_table_is_refused_naming_the_file(tmp_path):
    table = tmp_path / "meta.csv"
    table.write_bytes("key,site\na,K\u00f8benhavn\n".encode("latin-1"))
    with pytest.raises(HFMError, match=r"meta.csv: not UTF-8 text \(byte 0xf8 at offset 12, line 2\)"):
        check_utf8_text(table)
    (tmp_path / "raw").mkdir()
    with pytest.raises(HFMError, match=r"meta\.csv: not UTF-8"):
        npz_items(tmp_path / "raw", table)


def test_npz_deflate_bomb_is_sized_from_headers_before_decoding(tmp_path):
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (1 << 28,)})
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("data.npy", "w") as handle:
        handle.write(member.getvalue())
        zeros = bytes(1 << 24)
        for _ in range(64):  # 1 GiB of zeros, about 1 MB on disk
            handle.write(zeros)
    assert path.stat().st_size < 2 << 20
    with pytest.raises(InvalidInput, match=r"decodes to 1.0 GiB, above the limit of 512.0 MiB") as error:
        check_numpy_file(path)
    assert error.value.code == "too_large"


def test_nifti_headers_checked_before_decoding(tmp_path):
    import gzip
    import struct

    def header(dims: tuple[int, ...], bitpix: int = 16) -> bytes:
        raw = bytearray(352)
        raw[0:4] = struct.pack("<i", 348)
        raw[40:56] = struct.pack("<8h", len(dims), *dims, *([1] * (7 - len(dims))))
        raw[70:74] = struct.pack("<hh", 4, bitpix)
        raw[108:112] = struct.pack("<f", 352.0)
        raw[344:348] = b"n+1\0"
        return bytes(raw)

    huge = tmp_path / "huge.nii"
    huge.write_bytes(header((30000, 30000, 30000)) + bytes(1000))
    with pytest.raises(InvalidInput, match="implausible header: 30000x30000x30000 voxels"):
        check_nifti_header(huge)
    bomb = tmp_path / "bomb.nii.gz"
    with gzip.open(bomb, "wb") as handle:
        handle.write(header((700, 700, 700), 8))
        for _ in range(700):
            handle.write(bytes(700 * 700))
    with pytest.raises(InvalidInput, match=r"700x700x700 voxels of 8 bits decodes to 1.3 GiB") as error:
        check_nifti_header(bomb, working_itemsize=4)
    assert error.value.code == "too_large"


def test_grib_truncated_mid_message(tmp_path):
    message = b"GRIB" + b"\0\0\0\x02" + (40).to_bytes(8, "big") + bytes(20) + b"7777"
    whole = tmp_path / "ok.grib2"
    whole.write_bytes(message * 2)
    assert check_grib_messages(whole) == 2
    cut = tmp_path / "cut.grib2"
    cut.write_bytes(message + message[:30])
    with pytest.raises(InvalidInput, match="GRIB message 2 at byte 40 declares 40 bytes, the file ends after 30"):
        check_grib_messages(cut)
    assert sniff(cut) == "GRIB"


def test_model_config_with_absurd_width_is_refused_before_allocation(tmp_path):
    import json
    import resource

    import torch

    from hfm.shared.artifacts import ModelCard, export_model, load_pretrained
    from hfm.shared.models.registry import create_model

    card = ModelCard(name="t", license="Apache-2.0", intended_use="tests", limitations="random", training={})
    model = create_model("series-mae-tiny", channels=3, patch_len=10, width=32, depth=2, heads=2)
    out = export_model(model, tmp_path / "art", {}, card)
    config = json.loads((out / "config.json").read_text())
    config["args"]["width"] = 10_000_000
    (out / "config.json").write_text(json.dumps(config))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(HFMError, match=r"config.json: `args` build [\d,]+ parameters, above the limit"):
        load_pretrained(out)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing was allocated
    config["args"]["width"] = 64
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(HFMError, match="the weights file holds"):
        load_pretrained(out)
    assert torch.get_default_device().type == "cpu"


def test_sigkill_mid_curation_keeps_the_old_dataset_and_the_rerun_works(tmp_path):
    import signal
    import subprocess
    import sys

    out = tmp_path / "out"
    _run([_item("a", 1), _item("b", 2)], out)
    before = {p.name: p.read_bytes() for p in (out / "samples").iterdir()}
    script = f"""
import time
import numpy as np
from hfm.shared.arraystore import ArrayStoreWriter
from hfm.shared.contracts import ArraySpec, Sample, SampleContract
from hfm.shared.curation import CurationItem, curate
contract = SampleContract(name="t", arrays=[ArraySpec(name="data", dims=["x"], dtype="float32", shape=["x"])])
def load(i):
    time.sleep(0.05)
    return Sample(arrays={{"data": np.full(4, i, np.float32)}})
items = [CurationItem(f"k{{i}}", [], lambda i=i: load(i)) for i in range(400)]
curate(items, {str(out)!r}, contract, ArrayStoreWriter(), show_progress=False)
"""
    child = subprocess.Popen([sys.executable, "-c", script])
    staging = tmp_path / ".out.hfm-new" / "samples"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (staging.is_dir() and len(list(staging.iterdir())) >= 5):
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert len(list(staging.iterdir())) >= 5  # killed midway, with half a new dataset beside the old one
    assert {p.name: p.read_bytes() for p in (out / "samples").iterdir()} == before
    assert (out / MANIFEST).exists()
    assert _run([_item("c", 3)], out).written == 1  # the lock died with the process; leftovers are cleared
    assert not (tmp_path / ".out.hfm-new").exists()
