"""Real brain volumes: nilearn's MNI152 tissue labels and the ITK example subject (skipped where absent)."""

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from hfm.radiome.baselines import cluster_intensities
from hfm.radiome.metrics import dice_per_class
from hfm.radiome.readers.brain import ITK_INSTALL_HINT, itk_data_dir, mni152_tissue, nilearn_data_dir
from hfm.shared.quickstart import QuickstartContext

needs_nilearn = pytest.mark.skipif(nilearn_data_dir() is None, reason="nilearn's MNI152 template is not installed")
needs_itk = pytest.mark.skipif(itk_data_dir() is None, reason=f"ITK example T1 absent: {ITK_INSTALL_HINT}")


@needs_nilearn
def test_mni152_tissue_labels() -> None:
    t1, label = mni152_tissue()
    assert t1.shape == (197, 233, 189) and t1.spacing == (1.0, 1.0, 1.0)
    assert nib.aff2axcodes(t1.affine) == ("R", "A", "S")
    counts = np.bincount(label.ravel(), minlength=3)
    assert counts.tolist() == [6948864, 1090888, 635537]
    assert not label[t1.array <= 0].any()  # no tissue outside the brain
    assert t1.array[label == 2].mean() > t1.array[label == 1].mean()  # T1: white matter brighter than grey


@needs_itk
def test_itk_subject_label_mapping_and_clustering_baseline() -> None:
    from hfm.radiome.readers.brain import itk_subject

    subject, reference, original = itk_subject()
    assert original.shape == (128, 128, 62) and nib.aff2axcodes(original.affine) == ("L", "S", "A")
    assert subject.shape == (128, 62, 128) and subject.spacing == (2.0, 3.0, 2.0)
    assert np.bincount(reference.ravel(), minlength=3).tolist() == [911523, 57084, 47201]
    image = subject.array.astype(np.float32)
    clusters = cluster_intensities(image, image > 0, (0, 1, 2), "kmeans")
    dice = dice_per_class(clusters, reference, (1, 2))
    # The reference is ITK's own k-means of this T1, so 3-cluster k-means agrees closely (not exactly: ITK used 7).
    assert dice[1] > 0.85 and dice[2] > 0.9


def test_quickstart_smoke_runs_the_whole_chain(tmp_path: Path) -> None:
    """Synthesised training images -> hfm, UNet, clustering -> the real niivue subject (skipped without its data)."""
    from hfm.radiome.quickstart import run_quickstart
    from hfm.shared.sample_data import DataUnavailable

    try:
        result = run_quickstart(QuickstartContext(tmp_path, smoke=True, show_progress=False))
    except DataUnavailable as missing:
        pytest.skip(str(missing))
    assert result.domain == "radiome"
    assert 0.0 <= result.metrics["dice_mean_hfm"] <= 1.0 and result.metrics["dice_mean_kmeans"] > 0.3
    assert "| hfm UNETR (MAE-pretrained) | niivue | 1 |" in result.markdown
    assert (tmp_path / "mae-export" / "model.safetensors").exists()
    assert result.figures and result.figures[0].metric == "Dice"


def test_label_efficiency_curves_plot(tmp_path: Path) -> None:
    from hfm.radiome.experiments.brain import DiceRow, efficiency_curves
    from hfm.shared.eval.report import plot_label_efficiency

    rows = [DiceRow("hfm UNETR (MAE-pretrained)", f, 0.2 + f / 4, 0.5 + f / 4, 1.0) for f in (1.0, 0.25)]
    rows += [DiceRow("MONAI UNet (scratch)", f, 0.1 + f / 4, 0.4 + f / 4, 1.0) for f in (0.25, 1.0)]
    rows.append(DiceRow("k-means (3 clusters)", 1.0, 0.9, 0.9, 0.0))
    curves = efficiency_curves(rows)
    assert [c.name for c in curves] == ["hfm UNETR (MAE-pretrained)", "MONAI UNet (scratch)"]
    assert [p.fraction for p in curves[0].points] == [0.25, 1.0]
    assert curves[0].points[1].mean == pytest.approx((0.45 + 0.75) / 2)
    path = plot_label_efficiency(curves, tmp_path / "curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seeds_are_averaged_with_intervals(tmp_path: Path) -> None:
    from hfm.radiome.experiments.brain import BrainResult, DiceRow, efficiency_curves

    rows = [DiceRow("hfm UNETR (MAE-pretrained)", 0.25, gm, 0.6, 1.0, seed) for seed, gm in enumerate((0.2, 0.3, 0.4))]
    rows.append(DiceRow("k-means (3 clusters)", 1.0, 0.9, 0.9, 0.0))
    result = BrainResult(rows, None, tmp_path, tmp_path, tmp_path, {})
    averaged = result.row("hfm UNETR (MAE-pretrained)", 0.25)
    assert averaged.grey_matter == pytest.approx(0.3) and averaged.mean == pytest.approx(0.45)
    point = efficiency_curves(rows)[0].points[0]
    # Dice means 0.4, 0.45, 0.5: s = 0.05, t(0.975, 2) = 4.303
    assert point.values == pytest.approx([0.4, 0.45, 0.5])
    assert point.high - point.mean == pytest.approx(4.3027 * 0.05 / 3**0.5, rel=1e-3)
    table = result.markdown()
    assert "| hfm UNETR (MAE-pretrained) | 25% | 3 | 0.300 | 0.600 | 0.450 [0.326, 0.574] |" in table
    assert "| k-means (3 clusters) | - | 1 | 0.900 | 0.900 | 0.900 |" in table
