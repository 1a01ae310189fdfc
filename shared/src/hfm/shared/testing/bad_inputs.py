"""The bad-input corpus: hostile and unlucky files written from code, and the invariants every curate must keep.

Each probe is a file (or folder entry) plus what a correct curation does with it: written, or quarantined with one
of the expected codes and a reason that says why. `run_curation` runs a domain's curate in a child process and
measures its peak RSS and wall time; `check_run` asserts the issue-20 invariants: every probe ends as expected,
inputs = written + quarantined, nothing written outside the output folder, peak RSS under 1 GB, under 60 s;
`check_curate_command` does both for one `hfm <domain> curate` command line.

Byte-level makers (PNG, NIfTI, netCDF3, GRIB, npz) need no domain library, so the core's tests and
`tools/bad_inputs.py` write them; domain tests add probes that need their own library (miniSEED via ObsPy).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PEAK_RSS_LIMIT_BYTES = 1 << 30
WALL_LIMIT_S = 60.0


@dataclass(frozen=True)
class Probe:
    """One bad (or good) input: its curation key and what must happen to it."""

    key: str
    expect: frozenset[str]  # {"written"} or the quarantine codes that are true for it
    says: str = ""  # a phrase the quarantine reason must contain
    why: str = ""

    @classmethod
    def written(cls, key: str, why: str = "") -> Probe:
        return cls(key, frozenset({"written"}), why=why)

    @classmethod
    def quarantined(cls, key: str, *codes: str, says: str = "", why: str = "") -> Probe:
        return cls(key, frozenset(codes), says, why)


# ---------------------------------------------------------------------------------------------------- byte makers


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def npz_deflate_bomb(path: Path, decoded_bytes: int = 1 << 30, name: str = "data.npy") -> Path:
    """An npz whose one float32 member inflates to `decoded_bytes` of zeros from about a thousandth of that."""
    header = io.BytesIO()
    shape = (decoded_bytes // 4,)
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    zeros = bytes(1 << 24)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open(name, "w", force_zip64=True) as handle,
    ):
        handle.write(header.getvalue())
        left = decoded_bytes
        while left > 0:
            handle.write(zeros[: min(left, len(zeros))])
            left -= len(zeros)
    return path


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width: int, height: int, rows: Iterable[bytes] | None = None, compress_level: int = 9) -> bytes:
    """An 8-bit greyscale PNG; without `rows`, all black (a decompression bomb when large)."""
    compressor = zlib.compressobj(compress_level)
    parts = []
    if rows is None:
        blank = bytes(width + 1)
        rows = (blank for _ in range(height))
    for row in rows:
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def png_image(pixels: np.ndarray) -> bytes:
    """A real small greyscale PNG of `pixels` (uint8, 2-D)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    return png_bytes(pixels.shape[1], pixels.shape[0], (b"\0" + r.tobytes() for r in pixels))


def nifti1_header(
    shape: tuple[int, ...], datatype: int = 4, bitpix: int = 16, zooms: tuple[float, ...] = (), xyzt_units: int = 2
) -> bytes:
    """A NIfTI-1 single-file header (352 bytes, data at offset 352); `xyzt_units` 2 = mm, 3 = micron, 1 = metre."""
    raw = bytearray(352)
    raw[0:4] = struct.pack("<i", 348)
    raw[40:56] = struct.pack("<8h", len(shape), *shape, *([1] * (7 - len(shape))))
    raw[70:74] = struct.pack("<hh", datatype, bitpix)
    pixdim = (1.0, *(zooms or (1.0,) * len(shape)), *([1.0] * (7 - len(shape))))
    raw[76:108] = struct.pack("<8f", *pixdim[:8])
    raw[108:112] = struct.pack("<f", 352.0)
    raw[123] = xyzt_units
    raw[252:256] = struct.pack("<hh", 0, 1)  # qform_code 0, sform_code 1 (scanner)
    srow = [(zooms or (1.0, 1.0, 1.0))[i] if j == i else 0.0 for i in range(3) for j in range(4)]
    raw[280:328] = struct.pack("<12f", *srow)
    raw[344:348] = b"n+1\0"
    return bytes(raw)


def nifti_gzip_bomb(path: Path, side: int = 700) -> Path:
    """A gzipped uint8 NIfTI of side^3 zero voxels: a few hundred KB that decode to side^3 bytes."""
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(nifti1_header((side, side, side), datatype=2, bitpix=8))
        plane = bytes(side * side)
        for _ in range(side):
            handle.write(plane)
    return path


def netcdf3_record_bomb(numrecs: int = 2**31 - 1, nlat: int = 4, nlon: int = 4) -> bytes:
    """A netCDF classic file declaring `numrecs` records of a float `t(time, lat, lon)` it does not hold."""

    def name(text: str) -> bytes:
        raw = text.encode()
        return struct.pack(">i", len(raw)) + raw + b"\0" * (-len(raw) % 4)

    dims = struct.pack(">ii", 0x0A, 3) + name("time") + struct.pack(">i", 0)
    dims += name("lat") + struct.pack(">i", nlat) + name("lon") + struct.pack(">i", nlon)
    gatts = struct.pack(">ii", 0, 0)
    units = struct.pack(">ii", 0x0C, 1) + name("units") + struct.pack(">ii", 2, 1) + b"K\0\0\0"
    var = name("t") + struct.pack(">i", 3) + struct.pack(">iii", 0, 1, 2) + units
    header_wo_begin = b"CDF\x01" + struct.pack(">i", numrecs) + dims + gatts + struct.pack(">ii", 0x0B, 1) + var
    vsize = nlat * nlon * 4
    begin = len(header_wo_begin) + 8 + 4
    body = header_wo_begin + struct.pack(">ii", 5, vsize) + struct.pack(">i", begin)
    return body + bytes(vsize * 2)  # two records on disk


def grib2_message(payload: int = 20) -> bytes:
    """A byte-level GRIB2 envelope (indicator section, body, `7777`) for completeness checks."""
    length = 16 + payload + 4
    return b"GRIB" + b"\0\0\0\x02" + length.to_bytes(8, "big") + bytes(payload) + b"7777"


# ---------------------------------------------------------------------------------------------- generic corpus


def write_generic_probes(folder: str | Path, outside: str | Path) -> list[Probe]:
    """The probes of `hfm curate arrays` (npz/npy folder) into `folder`; `outside` receives a symlink target."""
    folder, outside = Path(folder), Path(outside)
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def good() -> bytes:
        return npz_bytes(data=rng.normal(size=16).astype(np.float32))

    (folder / "good.npz").write_bytes(content := good())
    (folder / "good_again.npz").write_bytes(content)
    (folder / "col a.npz").write_bytes(good())
    (folder / "col_a.npz").write_bytes(good())
    (folder / "___.npz").write_bytes(good())
    (folder / os.fsdecode(b"caf\xe9.npz")).write_bytes(good())
    (folder / "png_named.npz").write_bytes(png_image(np.arange(64, dtype=np.uint8).reshape(8, 8)))
    npz_deflate_bomb(folder / "bomb.npz")
    (folder / "truncated.npz").write_bytes(good()[:60])
    pickled = io.BytesIO()
    np.savez(pickled, data=np.array([{"a": 1}], dtype=object))
    (folder / "pickled.npz").write_bytes(pickled.getvalue())
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1 << 40,)})
    (folder / "huge_header.npy").write_bytes(b"\x93NUMPY" + header.getvalue()[6:] + bytes(64))
    (folder / "notes.dat").write_bytes(b"1 2 3\n")
    (folder / "scan.nii").write_bytes(nifti1_header((4, 4, 4)) + bytes(128))
    (folder / "empty.npz").write_bytes(b"")
    (outside / "secret.npz").write_bytes(good())
    (folder / "link_out.npz").symlink_to(outside / "secret.npz")
    os.mkfifo(folder / "pipe.npz")
    with_nan = rng.normal(size=16).astype(np.float32)
    with_nan[3] = np.nan
    (folder / "with_nan.npz").write_bytes(npz_bytes(data=with_nan))
    return [
        Probe.written("good"),
        Probe.quarantined("good_again", "duplicate", says="same content as 'good'"),
        Probe.written("col a"),
        Probe.quarantined("col_a", "key_collision", says="already taken by key 'col a'"),
        Probe.quarantined("___", "bad_key", says="no letters or digits"),
        Probe.quarantined(os.fsdecode(b"caf\xe9"), "bad_key", says="not UTF-8", why="non-UTF-8 file name"),
        Probe.quarantined("png_named", "not_npz", says="PNG signature"),
        Probe.quarantined("bomb", "too_large", says="decodes to 1.0 GiB"),
        Probe.quarantined("truncated", "unreadable", says="zip"),
        Probe.quarantined("pickled", "pickled", says="object array"),
        Probe.quarantined("huge_header", "too_large", says="decodes to 4.0 TiB"),
        Probe.quarantined("notes.dat", "unsupported_format", says="'.dat'"),
        Probe.quarantined("scan.nii", "unsupported_format", says="'.nii'"),
        Probe.quarantined("empty", "not_npz", says="no known signature"),
        Probe.quarantined("link_out.npz", "symlink_escape", says="outside the input folder"),
        Probe.quarantined("pipe.npz", "unsupported_format", says="not a regular file"),
        Probe.quarantined("with_nan", "nan", says="NaN"),
    ]


# ------------------------------------------------------------------------------------------- running and checking


@dataclass
class CurationRun:
    returncode: int
    wall_s: float
    peak_rss_bytes: int
    output: str
    created_outside: list[str] = field(default_factory=list)


def _tree(root: Path) -> set[str]:
    return {os.fsdecode(os.path.join(d, f)) for d, dirs, files in os.walk(root) for f in [*files, *dirs]}


_EPILOGUE = """
import resource as _r, sys as _s
_s.stdout.write("\\nPEAK_RSS_KIB=%d\\n" % _r.getrusage(_r.RUSAGE_SELF).ru_maxrss)
"""


def cli_code(argv: list[str]) -> str:
    """Python source that runs `hfm` with `argv` (argv[0] is "hfm") in the child `run_curation` starts; a non-zero
    exit fails the child."""
    return f"""
import runpy, sys
sys.argv = {argv!r}
try:
    runpy.run_module("hfm.shared.cli.main", run_name="__main__")
except SystemExit as stop:
    assert not stop.code, stop.code
"""


def run_curation(code: str, out_dir: Path, watch: Path, timeout_s: float = 2 * WALL_LIMIT_S) -> CurationRun:
    """Run curation `code` in a fresh Python; peak RSS from the child's own `ru_maxrss`; files new in `watch`
    outside `out_dir` (and its lock file) are listed as created outside."""
    before = _tree(watch)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HFM_NO_PROGRESS": "1"}
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code + _EPILOGUE], capture_output=True, text=True, timeout=timeout_s, env=env
        )
        returncode, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        returncode, output = -9, f"timed out after {timeout_s} s: {expired.stdout!r} {expired.stderr!r}"
    wall = time.monotonic() - started
    peak = 0
    for line in output.splitlines():
        if line.startswith("PEAK_RSS_KIB="):
            peak = int(line.split("=", 1)[1]) * 1024
    allowed = (str(out_dir), str(out_dir.parent / f".{out_dir.name}.lock"))
    created = sorted(p for p in _tree(watch) - before if not p.startswith(allowed))
    return CurationRun(returncode, wall, peak, output, created)


def outcomes(out_dir: Path) -> dict[str, tuple[str, str]]:
    """key -> (code, reasons) for every quarantined key of a curated folder."""
    found: dict[str, tuple[str, str]] = {}
    with open(out_dir / "quarantine" / "report.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code, reason = found.get(row["key"], ("", ""))
            found[row["key"]] = (f"{code} {row['code']}".strip(), f"{reason} | {row['reason']}".strip(" |"))
    return found


def check_run(run: CurationRun, out_dir: Path, probes: list[Probe], extra_inputs: int = 0) -> list[str]:
    """Every way the run broke the invariants, as sentences (empty: all kept)."""
    problems = []
    if run.returncode != 0:
        problems.append(f"curation failed (exit {run.returncode}): {run.output[-2000:]}")
        return problems
    if run.wall_s > WALL_LIMIT_S:
        problems.append(f"took {run.wall_s:.1f} s, over {WALL_LIMIT_S:.0f} s")
    if not 0 < run.peak_rss_bytes < PEAK_RSS_LIMIT_BYTES:
        problems.append(f"peak RSS {run.peak_rss_bytes / 2**20:.0f} MiB, limit {PEAK_RSS_LIMIT_BYTES / 2**20:.0f}")
    if run.created_outside:
        problems.append(f"wrote outside the output folder: {run.created_outside[:5]}")
    summary = json.loads((out_dir / "curation.json").read_text())
    if summary["inputs"] != summary["written"] + summary["quarantined"]:
        problems.append(f"inputs {summary['inputs']} != written {summary['written']} + {summary['quarantined']}")
    if summary["inputs"] != len(probes) + extra_inputs:
        problems.append(f"inputs {summary['inputs']}, expected {len(probes) + extra_inputs} (a probe not counted)")
    quarantined = outcomes(out_dir)
    for probe in probes:
        shown = os.fsencode(probe.key).decode("utf-8", "backslashreplace")
        code, reason = quarantined.get(shown, ("written", ""))
        if not set(code.split()) & probe.expect:
            problems.append(f"{shown!r}: {code} ({reason}), expected {sorted(probe.expect)}")
        elif probe.says and probe.says not in reason:
            problems.append(f"{shown!r}: reason {reason!r} does not say {probe.says!r}")
    return problems


def check_curate_command(
    args: list[str], out_dir: Path, probes: list[Probe], extra_inputs: int = 0
) -> tuple[CurationRun, list[str]]:
    """`hfm ARGS --out OUT_DIR --quiet` (e.g. ARGS = ["plankton", "curate", RAW, "--license", ...]) run by
    `run_curation`, watching OUT_DIR's parent for files written outside it, then `check_run`: the run and its
    problems (empty: every invariant kept)."""
    run = run_curation(cli_code(["hfm", *args, "--out", str(out_dir), "--quiet"]), out_dir, watch=out_dir.parent)
    return run, check_run(run, out_dir, probes, extra_inputs)
