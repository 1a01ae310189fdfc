"""The multi-instrument corpus: figure recovery, the WHOI wiki reader, version-1 IFCB bins, units of unknown scale."""

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from hfm.plankton.data.corpus import build_corpus, read_corpus_source, read_whoi_wiki
from hfm.plankton.readers.ifcb import read_ifcb_bin
from hfm.plankton.readers.images import decode_image
from hfm.plankton.readers.rendered import RenderedFigureStore, extract_plotted_image
from hfm.shared.sample_data import DataUnavailable, require_data


def _figure_of(image: np.ndarray) -> bytes:
    """The image drawn as the Bering Sea files are: matplotlib imshow, seaborn-like white grid, RGBA PNG 640x480."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.grid(True, color="white", linewidth=1.0)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def test_plotted_image_is_recovered_without_axes_or_grid(tmp_path):
    rng = np.random.default_rng(0)
    image = 0.45 + 0.05 * rng.standard_normal((60, 90))
    image[20:40, 30:60] = 0.1  # a dark object
    (tmp_path / "copepoda").mkdir()
    (tmp_path / "copepoda" / "a.png").write_bytes(_figure_of(np.clip(image, 0, 1)))
    grey = decode_image(RenderedFigureStore(tmp_path).read("copepoda/a.png")).grey
    height, width = grey.shape
    assert width / height == pytest.approx(90 / 60, rel=0.05)  # the plot area, not the 640 x 480 figure
    assert grey.max() < 0.8  # no white grid line and no white margin is left
    back = np.asarray(Image.fromarray(grey).resize((90, 60), Image.BILINEAR))
    assert np.corrcoef(back.ravel(), image.ravel())[0, 1] > 0.7


def test_blank_figure_is_refused():
    from hfm.shared.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no plotted image"):
        extract_plotted_image(np.ones((480, 640, 3), np.float32), "blank.png")


def test_whoi_wiki_reader_keeps_unlabelled_and_flags_conflicting_labels(tmp_path):
    (tmp_path / "images").mkdir()
    names = ["IFCB5_2017_1_00001.jpg", "IFCB5_2017_1_00002.jpg", "D2013_IFCB014_00003.jpg", "IFCB1_2009_1_00004.jpg"]
    for name in names:
        Image.fromarray(np.full((8, 12), 120, np.uint8)).save(tmp_path / "images" / name)
    pd.DataFrame(
        {
            "file": [names[0], names[2], names[3], names[3], names[0]],
            "group": ["Diatoms", "Ciliates", "Diatoms", "Diatoms", "Diatoms"],
            # trailing blanks as in the wiki's table; the last file is given two different classes
            "class": ["Chaetoceros", "Mesodinium", "Thalassiosira", "Thalassiosira rotula", "Chaetoceros   "],
        }
    ).to_csv(tmp_path / "labels.csv", index=False)
    table = read_whoi_wiki(tmp_path).table
    assert list(table["taxon"]) == ["Mesodinium", None, "Chaetoceros", None]
    assert list(table["annotation_status"]) == ["validated", "dubious", "validated", "unclassified"]
    assert table.at[1, "label_conflict"] == "Thalassiosira | Thalassiosira rotula"
    assert set(table["instrument"]) == {"IFCB"} and table.at[0, "group"] == "Ciliates"


def test_version_one_ifcb_bin_without_format_line(tmp_path):
    """Old IFCB1-6 bins: no ADCFileFormat header, ROI geometry in ADC columns 10-14, 1-based start bytes."""
    hdr = tmp_path / "IFCB5_2012_028_081515.hdr"
    hdr.write_text('"Imaging FlowCytobot Acquisition Software version 1.0; October 2005"\n')
    first, second = np.arange(12 * 5, dtype=np.uint8).reshape(5, 12), np.full((3, 4), 200, np.uint8)
    lines = [
        "1,.3,0,0,0,0,0,0,.2,10,20,12,5,1,0,",
        "1,.3,0,0,0,0,0,0,.2,40,50,4,3,61,0,",  # a second ROI of the same trigger
        "2,.4,0,0,0,0,0,0,.2,-11,-11,0,0,73,0,",  # a trigger without an image
    ]
    hdr.with_suffix(".adc").write_text("\n".join(lines) + "\n")
    hdr.with_suffix(".roi").write_bytes(first.tobytes() + second.tobytes())
    objects = read_ifcb_bin(hdr)
    assert list(objects.table["object_id"]) == ["IFCB5_2012_028_081515_00001", "IFCB5_2012_028_081515_00002"]
    assert objects.table.at[0, "datetime"] == "2012-01-28T08:15:15Z"
    assert np.array_equal(np.round(decode_image(objects.read_image(0)).grey * 255), first)
    assert objects.table.at[1, "acq_trigger_number"] == 1


def _require(relative: str) -> None:
    try:
        require_data(relative)
    except DataUnavailable as error:
        pytest.skip(str(error))


def test_real_ifcb_bins_read_every_roi():
    _require("plankton/ifcb-bins")
    objects = read_corpus_source("ifcb-bins")
    counts = objects.table["sample_id"].value_counts().to_dict()
    assert counts == {"D20130526T095207_IFCB013": 19, "IFCB5_2012_028_081515": 6}


def test_without_the_ifcb_extra_only_the_bins_it_needs_for_are_left_out(monkeypatch):
    _require("plankton/ifcb-bins")
    monkeypatch.setitem(__import__("sys").modules, "libifcb", None)  # as in an install without [ifcb]
    objects = read_corpus_source("ifcb-bins")
    assert objects.table["sample_id"].value_counts().to_dict() == {"IFCB5_2012_028_081515": 6}


def test_corpus_flags_unknown_pixel_size_and_trait_units(tmp_path):
    _require("plankton/ifcb-bins")
    corpus = build_corpus(["ifcb-bins"], canvas=32)
    table = corpus.table
    assert len(table) + len(corpus.quarantine) == 25
    assert (table["size_unit"] == "um").all() and (table["pixel_size_basis"] == "IFCB nominal").all()
    assert corpus.canvases.shape == (len(table), 32, 32) and corpus.morphology.shape[0] == len(table)
    # The same corpus again from the cache is identical.
    first = build_corpus(["ifcb-bins"], canvas=32, cache_dir=tmp_path)
    again = build_corpus(["ifcb-bins"], canvas=32, cache_dir=tmp_path)
    assert np.array_equal(first.canvases, again.canvases) and list(first.table["esd"]) == list(again.table["esd"])


def test_real_bering_sea_is_seven_classes_in_pixels():
    _require("plankton/bering-sea/images_raw")
    objects = read_corpus_source("bering-sea")
    table = objects.table
    assert len(table) == 1399 and table["taxon"].nunique() == 7
    assert table["pixel_size_um"].isna().all()  # the source gives no scale: never invented
    grey = decode_image(objects.read_image(0)).grey
    assert grey.shape[0] < 380 and grey.shape[1] < 500  # the plot area, not the 480 x 640 figure
