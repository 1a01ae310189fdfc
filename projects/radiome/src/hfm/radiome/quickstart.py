"""The radiome step of `hfm quickstart`: tissue segmentation trained on synthesised images, tested on a real subject.

A short version of the benchmark (`hfm.radiome.experiments.tissue`): the hfm UNETR and a MONAI UNet train on the
SynthSeg-style stream from the 20 real label maps, then segment the niivue FreeSurfer subject (never trained on) on
its native 1 mm grid, beside k-means and multi-Otsu in the same brain mask. With `--smoke` a few steps only.
"""

from __future__ import annotations

from hfm.radiome.benchmarks import tissue_figures
from hfm.radiome.experiments.tissue import HFM, KMEANS, UNET, TissueConfig, run_tissue_experiment
from hfm.shared.quickstart import QuickstartContext, QuickstartResult


def quickstart_config(smoke: bool, seed: int) -> TissueConfig:
    common = {"seeds": (seed,), "subjects": ("niivue",), "efficiency_maps": ()}
    if smoke:  # the whole chain runs with a few steps, no HD95, Atropos or timing; the numbers mean little
        return TissueConfig(
            steps=3,
            pretrain_steps=2,
            model_args={"width": 48, "depth": 2, "heads": 3, "features": 4},
            hd95=False,
            atropos=False,
            speed_repeats=0,
            **common,
        )
    return TissueConfig(steps=60, pretrain_steps=40, speed_repeats=1, atropos=False, **common)  # Atropos: 2+ min


def run_quickstart(context: QuickstartContext) -> QuickstartResult:
    config = quickstart_config(context.smoke, context.seed)
    # Missing reference data raises DataUnavailable: the core runner shows the section as skipped, with how to fetch it.
    result = run_tissue_experiment(context.out_dir, config)
    markdown = "\n".join(
        [
            "## radiome",
            "",
            "Brain tissue segmentation (CSF / grey matter / white matter) learnt only from images synthesised from "
            f"20 real label maps (SynthSeg-style domain randomisation), {config.steps} steps at {2 * config.pool} mm; "
            "tested on the niivue FreeSurfer subject (norm.mgz, reference aparc.a2009s+aseg) on its native 1 mm "
            f"grid. MAE pretraining {config.pretrain_steps} steps on real MR volumes and synthetic images.",
            "",
            result.markdown(),
            "A demonstration-scale run: see docs/radiome.md for the benchmark's figures.",
            "",
        ]
    )
    rows = {r.method: r for r in result.rows}
    metrics = {
        "dice_mean_hfm": rows[HFM].mean_dice,
        "dice_mean_unet": rows[UNET].mean_dice,
        "dice_mean_kmeans": rows[KMEANS].mean_dice,
        **{f"dice_{k.lower()}_hfm": v for k, v in rows[HFM].dice.items()},
    }
    headline = [f for f in tissue_figures(result) if f.headline]
    return QuickstartResult(domain="radiome", markdown=markdown, metrics=metrics, figures=headline)
