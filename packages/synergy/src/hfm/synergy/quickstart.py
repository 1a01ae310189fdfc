"""The synergy step of `hfm quickstart`: a small transfer matrix over the installed domains."""

from __future__ import annotations

from hfm.shared.errors import HFMError
from hfm.shared.quickstart import QuickstartContext, QuickstartResult
from hfm.synergy.cli import run_transfer

# Pretraining steps per source and fine-tuning epochs: keep the whole quickstart within 10 minutes on 2 CPUs.
QUICKSTART_STEPS = 60
QUICKSTART_EPOCHS = 3


def quickstart_step(context: QuickstartContext) -> QuickstartResult:
    seeds = 2 if context.smoke else 3
    steps = None if context.smoke else QUICKSTART_STEPS
    epochs = None if context.smoke else QUICKSTART_EPOCHS
    try:
        markdown, raw = run_transfer(
            context.out_dir,
            context.smoke,
            seeds,
            steps,
            None,
            joint=not context.smoke,
            quiet=not context.show_progress,
            epochs=epochs,
        )
    except HFMError as error:
        if "at least two domains" not in str(error):
            raise
        return QuickstartResult("synergy", f"## Cross-domain transfer\n\nskipped: {error}\n")
    return QuickstartResult("synergy", markdown, {"scores": raw["scores"]})
