"""IFCB (Imaging FlowCytobot) bins through `libifcb`: a bin is `<bin>.hdr`, `<bin>.adc` and `<bin>.roi`.

Needs the `ifcb` extra (`pip install hfm-plankton[ifcb]`). Every region of interest becomes one object whose image
path is `<bin>_<roi number, 5 digits>.png`, the IFCB dashboard's naming; the pixels come from the ROI file.
IFCB images carry no pixel size in the header; the usual calibration is 3.4 pixels per micrometre.

Bins of the first instruments (IFCB1-6, acquisition software 1.0, names like `IFCB5_2012_028_081515`) have no
`ADCFileFormat` line, which libifcb needs; their fixed ADC layout (pyifcb's schema version 1: ROI x, y, width, height
and the 1-based start byte in columns 10-14) is read here instead, with the same one-object-per-ROI result.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from hfm.plankton.readers.objects import PlanktonObjects
from hfm.shared.errors import HFMError, InvalidInput

IFCB_PIXELS_PER_UM = 3.4
_BIN_NAME = re.compile(r"D(\d{8})T(\d{6})_(IFCB\d+)")
_LEGACY_BIN_NAME = re.compile(r"(IFCB\d+)_(\d{4})_(\d{3})_(\d{6})")


class MissingIFCBReader(HFMError):
    """The optional reader of new-format bins (the `ifcb` extra) is not installed."""


@dataclass
class _LegacyROI:
    """One region of interest of a version-1 bin (numbered by ADC line: a trigger can hold several)."""

    index: int
    trigger_index: int
    x: int
    y: int
    width: int
    height: int
    array: np.ndarray | None


def _legacy_rois(hdr: Path) -> list[_LegacyROI]:
    adc, roi = hdr.with_suffix(".adc"), hdr.with_suffix(".roi")
    data = roi.read_bytes()
    rois = []
    for number, line in enumerate(adc.read_text().splitlines(), start=1):
        fields = line.split(",")
        if not line.strip():
            continue
        try:
            trigger = int(float(fields[0]))
            x, y, width, height, start = (int(float(v)) for v in fields[9:14])
        except (ValueError, IndexError) as error:
            raise HFMError(f"{adc}: line {number} is not a version-1 ADC record ({error})") from error
        if width <= 0 or height <= 0:
            continue  # a trigger without an image
        chunk = data[start - 1 : start - 1 + width * height]
        array = np.frombuffer(chunk, np.uint8).reshape(height, width) if len(chunk) == width * height else None
        rois.append(_LegacyROI(number, trigger, x, y, width, height, array))  # ROI number = ADC line, as pyifcb
    return rois


def _is_legacy(hdr: Path) -> bool:
    text = hdr.read_text(errors="replace")
    return "ADCFileFormat" not in text and "Acquisition Software version 1" in text


class IFCBStore:
    """Renders the ROIs of one bin as PNG bytes on request."""

    def __init__(self, hdr: Path) -> None:
        self.hdr = hdr
        self.bin = hdr.stem
        if _is_legacy(hdr):
            self.rois = {f"{self.bin}_{roi.index:05d}.png": roi for roi in _legacy_rois(hdr)}
            return
        try:
            from libifcb import ROIReader
        except ImportError as error:
            raise MissingIFCBReader("reading IFCB bins needs libifcb: pip install 'hfm-plankton[ifcb]'") from error
        try:
            self.reader = ROIReader(str(hdr), str(hdr.with_suffix(".adc")), str(hdr.with_suffix(".roi")))
        except (OSError, KeyError, ValueError) as error:
            raise HFMError(f"{hdr}: not a readable IFCB bin ({type(error).__name__}: {error})") from error
        self.rois = {f"{self.bin}_{roi.index:05d}.png": roi for roi in self.reader.rois}

    def source(self, image_path: str) -> Path:
        return self.hdr.with_suffix(".roi")

    def read(self, image_path: str) -> bytes:
        roi = self.rois.get(image_path)
        if roi is None:
            raise InvalidInput(f"{self.bin}: no ROI {image_path!r}", field="image_path", code="missing")
        try:
            array = roi.array
        except ValueError:  # libifcb cannot reshape the bytes it got
            array = None
        if array is None or array.size != roi.width * roi.height:
            raise InvalidInput(f"{self.bin}: ROI {roi.index} is cut short in the .roi file", "image", "truncated")
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(array), "L").save(buffer, format="PNG")
        return buffer.getvalue()


def read_ifcb_bin(hdr: str | Path, pixel_size_um: float = 1.0 / IFCB_PIXELS_PER_UM) -> PlanktonObjects:
    hdr = Path(hdr)
    if hdr.suffix != ".hdr" or not hdr.is_file():
        raise HFMError(f"{hdr}: expected the .hdr file of an IFCB bin")
    store = IFCBStore(hdr)
    match = _BIN_NAME.fullmatch(store.bin)
    when = None
    if match:
        d, t = match.group(1), match.group(2)
        when = f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:]}Z"
    elif legacy := _LEGACY_BIN_NAME.fullmatch(store.bin):  # IFCB5_2012_028_081515: year, day of year, time
        day = datetime.strptime(f"{legacy.group(2)} {legacy.group(3)}", "%Y %j")
        t = legacy.group(4)
        when = f"{day:%Y-%m-%d}T{t[:2]}:{t[2:4]}:{t[4:]}Z"
    rows = [
        {
            "object_id": name.removesuffix(".png"),
            "image_path": name,
            "instrument": "IFCB",
            "pixel_size_um": pixel_size_um,
            "datetime": when,
            "annotation_status": "unclassified",
            "sample_id": store.bin,
            "acq_roi_x": roi.x,
            "acq_roi_y": roi.y,
            "acq_trigger_number": roi.trigger_index,
        }
        for name, roi in store.rois.items()
    ]
    return PlanktonObjects(pd.DataFrame(rows), store, hdr)
