"""The synergy step of `hfm quickstart`: a small transfer matrix over the installed domains."""

from __future__ import annotations

from hfm.shared.errors import HFMError
from hfm.shared.quickstart import QuickstartContext, QuickstartResult
from hfm.synergy.cli import run_transfer


def quickstart_step(context: QuickstartContext) -> QuickstartResult:
    seeds = 2 if context.smoke else 3
    try:
        markdown, raw = run_transfer(
            context.out_dir, context.smoke, seeds, None, None, joint=not context.smoke, quiet=not context.show_progress
        )
    except HFMError as error:
        if "at least two domains" not in str(error):
            raise
        return QuickstartResult("synergy", f"## Cross-domain transfer\n\nskipped: {error}\n")
    markdown = markdown.replace("](transfer_", "](synergy/transfer_")  # index.md lies one folder up
    return QuickstartResult("synergy", markdown, {"scores": raw["scores"]})
