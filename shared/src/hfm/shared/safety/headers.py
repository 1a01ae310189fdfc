"""Header checks before decoding: what a file declares it holds, read from its first bytes, never its payload.

Each check raises `InvalidInput` with a true reason: `not_npz` / `wrong_format` (the bytes are another format),
`too_large` (decodes beyond the budget), `implausible_header` (declares more than the file can hold), `truncated`
(a message or record is cut), `pickled` (object arrays). Pure Python, so the core checks every domain's formats
without importing their libraries.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hfm.shared.errors import InvalidInput
from hfm.shared.safety.budget import ResourceBudget, current_budget, human_bytes

SIGNATURES: list[tuple[bytes, str]] = [
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
    (b"\x93NUMPY", "npy"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"CDF\x01", "netCDF3"),
    (b"CDF\x02", "netCDF3"),
    (b"CDF\x05", "netCDF3"),
    (b"GRIB", "GRIB"),
    (b"%PDF", "PDF"),
    (b"\x80", "pickle"),
]
DEFLATE_MAX_RATIO = 1100  # deflate cannot expand one byte to more than 1032: anything beyond is a lie


def sniff(path: str | Path) -> str | None:
    """The format a file's first bytes say it is, or None."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    for magic, name in SIGNATURES:
        if head.startswith(magic):
            return name
    return None


def _npy_header(handle, what: str) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    except Exception as error:
        raise InvalidInput(f"{what}: damaged npy header ({error})", code="unreadable") from None
    if dtype.hasobject:
        raise InvalidInput(f"{what}: object array (pickled Python objects), refused", code="pickled")
    return tuple(int(n) for n in shape), dtype


def check_numpy_file(path: str | Path, budget: ResourceBudget | None = None) -> None:
    """An `.npz` / `.npy` file: right signature, every member's decoded size from its header within the budget."""
    path, budget = Path(path), budget or current_budget()
    kind = sniff(path)
    expected = "npy" if path.suffix == ".npy" else "zip"
    if kind != expected:
        found = f"{kind} signature" if kind else "no known signature"
        raise InvalidInput(f"not an {path.suffix.lstrip('.')} ({found})", code=f"not_{path.suffix.lstrip('.')}")
    if expected == "npy":
        with open(path, "rb") as handle:
            shape, dtype = _npy_header(handle, path.name)
            offset = handle.tell()
        nbytes = math.prod(shape) * dtype.itemsize
        budget.check_decoded(nbytes, f"array {shape} {dtype}")
        if offset + nbytes > path.stat().st_size:
            raise InvalidInput(
                f"header declares {human_bytes(nbytes)} of data, the file holds {path.stat().st_size} bytes",
                code="truncated",
            )
        return
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    shape, dtype = _npy_header(member, info.filename)
                nbytes = math.prod(shape) * dtype.itemsize
                if info.file_size < nbytes:
                    raise InvalidInput(
                        f"member {info.filename}: header declares {human_bytes(nbytes)}, the zip entry "
                        f"{human_bytes(info.file_size)}",
                        code="implausible_header",
                    )
                total += nbytes
                budget.check_decoded(total, f"npz members up to {info.filename} ({shape} {dtype})")
    except zipfile.BadZipFile as error:
        raise InvalidInput(f"damaged zip container ({error})", code="unreadable") from None


def png_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    if len(head) < 24 or head[12:16] != b"IHDR":
        raise InvalidInput("PNG without an IHDR header (truncated or damaged)", field="image", code="truncated")
    return struct.unpack(">II", head[16:24])


def check_image_header(path: str | Path, budget: ResourceBudget | None = None) -> None:
    """PNG dimensions against the pixel budget before any decoding (other formats: the decoder's own limit)."""
    budget = budget or current_budget()
    if sniff(path) == "PNG":
        width, height = png_size(path)
        budget.check_pixels(width, height, Path(path).name)


@dataclass(frozen=True)
class NiftiHeader:
    shape: tuple[int, ...]
    bitpix: int
    vox_offset: int
    xyzt_units: int
    compressed: bool

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * max(self.bitpix, 8) // 8


def read_nifti_header(path: str | Path) -> NiftiHeader:
    """The NIfTI-1 or NIfTI-2 header fields that size the data (gzip read for the header bytes only)."""
    path = Path(path)
    compressed = sniff(path) == "gzip"
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as handle:
            head = handle.read(540)
    except (OSError, EOFError) as error:
        raise InvalidInput(f"header unreadable ({error})", field="header", code="truncated") from None
    for order in "<>":
        if len(head) >= 348 and struct.unpack(order + "i", head[:4])[0] == 348:
            dim = struct.unpack(order + "8h", head[40:56])
            bitpix = struct.unpack(order + "h", head[72:74])[0]
            offset = int(struct.unpack(order + "f", head[108:112])[0])
            units = head[123]
            break
        if len(head) >= 540 and struct.unpack(order + "i", head[:4])[0] == 540:
            bitpix = struct.unpack(order + "h", head[14:16])[0]
            dim = struct.unpack(order + "8q", head[16:80])
            offset = struct.unpack(order + "q", head[168:176])[0]
            units = struct.unpack(order + "i", head[500:504])[0]
            break
    else:
        raise InvalidInput("not a NIfTI-1/2 header (sizeof_hdr is neither 348 nor 540)", field="header")
    ndim = dim[0]
    if not 1 <= ndim <= 7 or any(d < 1 for d in dim[1 : ndim + 1]) or bitpix not in (1, 8, 16, 24, 32, 64, 128, 256):
        reason = f"implausible header: dim {list(dim)}, bitpix {bitpix}"
        raise InvalidInput(reason, field="header", code="implausible_header")
    return NiftiHeader(tuple(int(d) for d in dim[1 : ndim + 1]), int(bitpix), offset, int(units), compressed)


def check_nifti_header(
    path: str | Path, budget: ResourceBudget | None = None, working_itemsize: int | None = None
) -> NiftiHeader:
    """A NIfTI's declared size: plausible for the file it is in, and within the budget at `working_itemsize`."""
    path, budget = Path(path), budget or current_budget()
    header = read_nifti_header(path)
    declared = f"{'x'.join(map(str, header.shape))} voxels of {header.bitpix} bits"
    size = path.stat().st_size
    if header.compressed and header.nbytes > DEFLATE_MAX_RATIO * size:
        raise InvalidInput(
            f"implausible header: {declared} ({human_bytes(header.nbytes)}) cannot come from {human_bytes(size)} "
            "of gzip",
            field="header",
            code="implausible_header",
        )
    if not header.compressed and header.vox_offset + header.nbytes > size:
        raise InvalidInput(
            f"implausible header: {declared} ({human_bytes(header.nbytes)}), the file holds {human_bytes(size)}",
            field="header",
            code="implausible_header",
        )
    voxels = math.prod(header.shape)
    budget.check_decoded(voxels * (working_itemsize or max(header.bitpix // 8, 1)), declared, field="header")
    return header


_NC_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}


class _Cursor:
    def __init__(self, data: bytes, wide: bool) -> None:
        self.data, self.pos, self.wide = data, 0, wide

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise EOFError
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int32(self) -> int:
        return struct.unpack(">i", self.take(4))[0]

    def count(self) -> int:  # NON_NEG: 8 bytes in CDF-5
        return struct.unpack(">q", self.take(8))[0] if self.wide else struct.unpack(">i", self.take(4))[0]

    def name(self) -> str:
        n = self.count()
        raw = self.take(n + (-n % 4))
        return raw[:n].decode("utf-8", "replace")

    def attributes(self) -> None:
        tag, n = self.int32(), self.count()
        for _ in range(n if tag else 0):
            self.name()
            size = _NC_TYPE_SIZE.get(self.int32(), 1) * self.count()
            self.take(size + (-size % 4))


def netcdf3_declared_bytes(path: str | Path) -> int:
    """Bytes of data a netCDF classic / 64-bit-offset / CDF-5 file declares (records times record size)."""
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read(4 << 20)  # headers are small; 4 MiB holds thousands of variables
    version = data[3] if len(data) > 3 else 0
    cursor = _Cursor(data, wide=version == 5)
    try:
        cursor.take(4)
        numrecs = cursor.count()
        tag, ndims = cursor.int32(), cursor.count()
        dims = [(cursor.name(), cursor.count()) for _ in range(ndims if tag else 0)]
        cursor.attributes()
        tag, nvars = cursor.int32(), cursor.count()
        fixed = per_record = 0
        for _ in range(nvars if tag else 0):
            cursor.name()
            ids = [cursor.count() for _ in range(cursor.count())]
            cursor.attributes()
            itemsize = _NC_TYPE_SIZE.get(cursor.int32(), 1)
            cursor.count()  # vsize (may be clipped in the file; recomputed here)
            cursor.take(8 if version in (2, 5) else 4)  # begin
            lengths = [dims[i][1] if 0 <= i < len(dims) else 0 for i in ids]
            if ids and 0 <= ids[0] < len(dims) and dims[ids[0]][1] == 0:
                per_record += math.prod(lengths[1:]) * itemsize
            else:
                fixed += math.prod(lengths) * itemsize
    except EOFError:
        raise InvalidInput("netCDF header cut short (truncated file)", field="header", code="truncated") from None
    streaming = numrecs in (-1, 0xFFFFFFFF)
    return fixed + (0 if streaming else numrecs * per_record)


def check_netcdf3_header(path: str | Path) -> None:
    """A netCDF3 file must hold the data its header declares; 2^31-1 records in 158 KB is a lie, not a dataset."""
    path = Path(path)
    if sniff(path) != "netCDF3":
        return
    declared, size = netcdf3_declared_bytes(path), path.stat().st_size
    if declared > size:
        raise InvalidInput(
            f"implausible header: declares {human_bytes(declared)} of data, the file holds {human_bytes(size)}",
            field="header",
            code="implausible_header",
        )


def check_grib_messages(path: str | Path) -> int:
    """Every GRIB message complete (its declared length inside the file, ending in `7777`); returns the count."""
    path = Path(path)
    size, count, pos = os.path.getsize(path), 0, 0
    with open(path, "rb") as handle:
        while pos < size:
            handle.seek(pos)
            block = handle.read(1 << 16)
            start = block.find(b"GRIB")
            if start < 0:
                if count == 0:
                    raise InvalidInput("no GRIB message in the file", field="file", code="unreadable")
                break
            pos += start
            handle.seek(pos)
            head = handle.read(16)
            if len(head) < 8:
                raise InvalidInput(f"GRIB message {count + 1} cut at byte {pos}", code="truncated")
            edition = head[7]
            length = int.from_bytes(head[8:16], "big") if edition == 2 else int.from_bytes(head[4:7], "big")
            if length < 16 or pos + length > size:
                raise InvalidInput(
                    f"GRIB message {count + 1} at byte {pos} declares {length} bytes, the file ends after {size - pos}",
                    code="truncated",
                )
            handle.seek(pos + length - 4)
            if handle.read(4) != b"7777":
                raise InvalidInput(f"GRIB message {count + 1} at byte {pos} does not end in 7777", code="truncated")
            pos += length
            count += 1
    return count
