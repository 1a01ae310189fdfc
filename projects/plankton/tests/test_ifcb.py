"""An IFCB bin written byte by byte in the instrument's layout, read back through libifcb."""

import numpy as np
import pytest

pytest.importorskip("libifcb", reason="the ifcb extra (libifcb) is not installed")

from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.readers.ifcb import IFCB_PIXELS_PER_UM, read_ifcb_bin
from hfm.plankton.readers.images import decode_image
from hfm.shared.curate_driver import DatasetDescription

DESCRIBE = DatasetDescription("plankton-test", "CC0-1.0", ["HFM tests"])


def write_bin(folder, rois, cut_last=0):
    name = folder / "D20230415T093000_IFCB014"
    (name.with_suffix(".hdr")).write_text(
        "softwareVersion: Imaging FlowCytobot Acquire 2.0\n"
        "ADCFileFormat: trigger#, ADC_time, PMTA, ROIx, ROIy, ROIwidth, ROIheight, StartByte\n"
    )
    lines, data, trigger = [], b"", 1
    for roi in rois:
        if roi is None:  # a trigger without an image
            lines.append(f"{trigger}, 0.1, 0.2, 0, 0, 0, 0, {len(data)}")
        else:
            h, w = roi.shape
            lines.append(f"{trigger}, 0.1, 0.2, 12, 34, {w}, {h}, {len(data)}")
            data += roi.astype(np.uint8).tobytes()
        trigger += 1
    name.with_suffix(".adc").write_text("\n".join(lines) + "\n")
    name.with_suffix(".roi").write_bytes(data[: len(data) - cut_last])
    return name.with_suffix(".hdr")


def test_ifcb_bin_reads_rois_and_curates(tmp_path):
    rng = np.random.default_rng(0)
    first = rng.integers(0, 255, (20, 30))
    second = np.full((16, 12), 200)
    second[4:10, 3:8] = 40
    hdr = write_bin(tmp_path, [first, None, second, np.full((10, 10), 90)], cut_last=50)
    objects = read_ifcb_bin(hdr)
    table = objects.table
    assert list(table["object_id"]) == [
        "D20230415T093000_IFCB014_00001",
        "D20230415T093000_IFCB014_00003",
        "D20230415T093000_IFCB014_00004",
    ]
    assert (table["instrument"] == "IFCB").all() and table.at[0, "datetime"] == "2023-04-15T09:30:00Z"
    assert table.at[0, "pixel_size_um"] == pytest.approx(1 / IFCB_PIXELS_PER_UM)
    assert np.array_equal(np.round(decode_image(objects.read_image(0)).grey * 255), first)
    summary = curate_objects(objects, tmp_path / "out", DESCRIBE, CurationConfig(canvas=32), show_progress=False)
    assert (summary.written, summary.quarantined) == (2, 1)
    assert summary.reasons == {"truncated": 1}  # the last ROI was cut short in the .roi file
