import numpy as np
import pytest

from hfm.plankton.curate import CurationConfig, curate_objects
from hfm.plankton.format import EcoTaxaFormat
from hfm.plankton.readers.ecotaxa import read_ecotaxa
from hfm.plankton.readers.folders import read_image_folder
from hfm.plankton.readers.images import decode_image, fit_canvas
from hfm.shared.cards import validate_card
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.plugins import find_format
from hfm.shared.testing.bad_inputs import outcomes

DESCRIBE = DatasetDescription("plankton-test", "CC0-1.0", ["HFM tests"])


def test_curation_writes_good_objects_and_quarantines_each_failure_with_its_reason(mixed_export, tmp_path):
    out = tmp_path / "curated"
    summary = curate_objects(read_ecotaxa(mixed_export), out, DESCRIBE, CurationConfig(canvas=64), show_progress=False)
    assert (summary.inputs, summary.written, summary.quarantined) == (13, 6, 7)
    reasons = {key: code for key, (code, _) in outcomes(out).items()}
    assert reasons == {
        "obj_006": "duplicate",
        "obj_007": "truncated",
        "obj_008": "corrupt",
        "obj_009": "empty",
        "obj_010": "missing_pixel_size",
        "obj_011": "path_escape",
        "obj_012": "missing",
    }
    assert not (out / "quarantine" / "files" / "obj_011").exists()  # an escaping path is never read
    curated = read_ecotaxa(out).table.set_index("object_id")
    # Small objects keep their resolution; the 200 px one is shrunk to 64 px and its pixel size grows by 200/64.
    assert curated.loc["obj_000", "pixel_size_um"] == pytest.approx(10.58)
    assert curated.loc["obj_004", "pixel_size_um"] == pytest.approx(10.58 * 200 / 64)
    assert curated.loc["obj_004", "object_original_pixel_size_um"] == pytest.approx(10.58)
    assert curated.loc["obj_003", "object_image_bit_depth"] == 16
    assert curated.loc["obj_002", "object_image_mode"] == "RGBA"
    # Traits are measured on the original image, in micrometres: a 10 px radius disc at 10.58 um/px.
    assert curated.loc["obj_000", "object_esd_um"] == pytest.approx(2 * 10 * 10.58, rel=0.03)
    assert curated.loc["obj_004", "object_esd_um"] == pytest.approx(2 * 60 * 10.58, rel=0.01)
    assert validate_card(out, find_format("ecotaxa")) == []


def test_recuration_is_byte_identical_and_card_catches_tampering(mixed_export, tmp_path):
    out = tmp_path / "curated"
    curate_objects(read_ecotaxa(mixed_export), out, DESCRIBE, show_progress=False)
    first = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    curate_objects(read_ecotaxa(mixed_export), out, DESCRIBE, show_progress=False)
    second = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert first == second
    image = next((out / "images").glob("*.png"))
    image.write_bytes(image.read_bytes()[:-20])
    codes = {v.code for v in validate_card(out, EcoTaxaFormat())}
    assert "checksum" in codes


def test_image_modes_and_bit_depths_decode_to_the_same_grey(mixed_export):
    images = mixed_export / "images"
    grey = decode_image((images / "grey.png").read_bytes())
    deep = decode_image((images / "deep16.png").read_bytes())
    assert (grey.mode, grey.bit_depth, deep.mode, deep.bit_depth) == ("L", 8, "I;16", 16)
    assert grey.grey.min() == pytest.approx(0.2, abs=0.005) and grey.grey.max() == pytest.approx(0.8, abs=0.005)
    assert deep.grey.min() == pytest.approx(0.2, abs=1e-4) and deep.grey.max() == pytest.approx(0.8, abs=1e-4)
    rgba = decode_image((images / "rgba.png").read_bytes())
    corner = rgba.grey[0, 0]  # transparent: becomes the background level of the opaque border
    assert corner == pytest.approx(0.8, abs=0.01)


def test_fit_canvas_keeps_the_physical_scale():
    image = np.random.default_rng(0).random((30, 120)).astype(np.float32)
    padded, pixel = fit_canvas(image, 2.0, 64, "pad")
    assert padded.shape == (64, 64) and pixel == pytest.approx(2.0 * 120 / 64)
    small, pixel_small = fit_canvas(image[:20, :40], 2.0, 64, "pad")
    assert pixel_small == 2.0 and np.array_equal(small[22:42, 12:52], image[:20, :40])
    grown, pixel_grown = fit_canvas(image[:20, :40], 2.0, 64, "resize")
    assert pixel_grown == pytest.approx(2.0 * 40 / 64)  # the object spans the same 80 um on the canvas
    assert grown.shape == (64, 64) and grown[0, 0] == pytest.approx(float(np.median(grown[0])), abs=0.2)


def test_image_folder_reader(tmp_path):
    from PIL import Image

    for taxon in ("Copepoda", "Diatom"):
        (tmp_path / taxon).mkdir()
        for i in range(2):
            pixels = np.full((20, 20), 200, np.uint8)
            pixels[5 : 10 + i, 5:12] = 30
            Image.fromarray(pixels).save(tmp_path / taxon / f"{i}.png")
    Image.fromarray(np.eye(20, dtype=np.uint8) * 255).save(tmp_path / "loose.png")
    table = read_image_folder(tmp_path, instrument="FlowCam", pixel_size_um=1.5).table
    assert list(table["object_id"]) == ["Copepoda__0", "Copepoda__1", "Diatom__0", "Diatom__1", "loose"]
    assert list(table["taxon"].fillna("-")) == ["Copepoda", "Copepoda", "Diatom", "Diatom", "-"]
    assert list(table["annotation_status"]) == ["validated"] * 4 + ["unclassified"]
    assert (table["pixel_size_um"] == 1.5).all()


def test_pretraining_task_is_found_by_the_core_trainer_registry(mixed_export, tmp_path):
    from hfm.shared.errors import HFMError
    from hfm.shared.train.task import available_tasks, build_task

    assert "plankton-mae" in available_tasks()
    curate_objects(read_ecotaxa(mixed_export), tmp_path / "d", DESCRIBE, CurationConfig(canvas=32), show_progress=False)
    task = build_task("plankton-mae", {"dataset": str(tmp_path / "d"), "width": 32, "depth": 1, "patch": 8})
    batch = task.collate([task.train_dataset()[i] for i in range(4)])
    assert tuple(batch.shape) == (4, 2, 32, 32)
    loss, logs = task.loss(task.build_model(), batch)
    assert loss.item() > 0 and logs["mae_loss"] == pytest.approx(loss.item())
    with pytest.raises(HFMError, match="unknown option"):
        build_task("plankton-mae", {"dataset": str(tmp_path / "d"), "widht": 32})
