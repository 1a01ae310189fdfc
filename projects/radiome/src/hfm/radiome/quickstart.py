"""The radiome step of `hfm quickstart`: the brain tissue experiment at low resolution, offline, on real volumes."""

from __future__ import annotations

from hfm.radiome.brain import ITK_INSTALL_HINT, itk_data_dir
from hfm.radiome.experiment import BrainConfig, run_brain_experiment
from hfm.shared.quickstart import QuickstartContext, QuickstartResult


def quickstart_config(smoke: bool, seed: int) -> BrainConfig:
    if smoke:  # seconds: the whole chain runs, the numbers mean little
        return BrainConfig(
            spacing=6.0,
            pretrain_steps=3,
            finetune_steps=3,
            batch_size=1,
            seed=seed,
            model_args={"width": 48, "depth": 2, "heads": 3},
            features=4,
        )
    return BrainConfig(spacing=4.0, pretrain_steps=120, finetune_steps=80, seed=seed)


def run_quickstart(context: QuickstartContext) -> QuickstartResult:
    if itk_data_dir() is None:  # like a missing data package elsewhere: say what to install, lose no other domain
        reason = f"skipped: the test subject (ITK example T1) is not installed: {ITK_INSTALL_HINT}"
        return QuickstartResult("radiome", f"## radiome\n\n{reason}\n", {"skipped": reason})
    config = quickstart_config(context.smoke, context.seed)
    result = run_brain_experiment(context.out_dir, config)
    hfm, unet = result.row("hfm UNETR (MAE-pretrained)"), result.row("MONAI UNet (scratch)")
    kmeans = result.row("k-means (3 clusters)")
    markdown = "\n".join(
        [
            "## radiome",
            "",
            f"Brain tissue segmentation (background / grey matter / white matter). Trained on the MNI152 template "
            f"(nilearn tissue maps), tested on the ITK example T1 (2 x 2 x 3 mm) after resampling to "
            f"{result.plan.target_spacing} mm; Dice on the subject's native grid. MAE {config.pretrain_steps} steps, "
            f"fine-tuning {config.finetune_steps} steps, patch {result.plan.patch_size}.",
            "",
            result.markdown(),
            "The reference of the test subject is ITK's own k-means segmentation of that T1, so the clustering "
            "baselines agree with it by construction; the learned models must transfer from another subject.",
            "",
            f"Curated dataset: `{result.curated}` (nnU-Net raw + card.json); "
            f"pretrained encoder: `{result.pretrained}`; segmenter: `{result.finetuned}`.",
            "",
        ]
    )
    metrics = {
        "dice_mean_hfm": hfm.mean,
        "dice_mean_unet": unet.mean,
        "dice_mean_kmeans": kmeans.mean,
        "dice_gm_hfm": hfm.grey_matter,
        "dice_wm_hfm": hfm.white_matter,
        **result.timings,
    }
    return QuickstartResult(domain="radiome", markdown=markdown, metrics=metrics)
