"""Transfer results as a Markdown table and a heat-map PNG of the gain over a randomly initialised trunk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from hfm.synergy.transfer import RANDOM, TransferScore, summarise


def _order(scores: Sequence[TransferScore]) -> tuple[list[str], list[str]]:
    sources = list(dict.fromkeys(s.source for s in scores))
    targets = list(dict.fromkeys(s.target for s in scores))
    return sources, targets


def markdown_table(scores: Sequence[TransferScore], protocol: str) -> str:
    sources, targets = _order(scores)
    cells = summarise(scores, protocol)
    metric = {s.target: s.metric for s in scores}
    seeds = len({s.seed for s in scores})
    lines = [
        f"{protocol} score by pretraining source (rows) and target domain (columns); mean ± 95% CI half-width over "
        f"{seeds} seed(s); diagonal = in-domain pretraining",
        "",
        "| source \\ target | " + " | ".join(f"{t} ({metric[t]})" for t in targets) + " |",
        "|---|" + "---|" * len(targets),
    ]
    for source in sources:
        row = []
        for target in targets:
            mean, half = cells[(source, target)]
            row.append(f"{mean:.3f} ± {half:.3f}" if np.isfinite(half) else f"{mean:.3f}")
        lines.append(f"| {source} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def heatmap(scores: Sequence[TransferScore], protocol: str, path: str | Path) -> Path:
    """Mean score minus the random-init score of the same target: > 0 means the source trunk helped."""
    sources, targets = _order(scores)
    cells = summarise(scores, protocol)
    gain = np.array([[cells[(s, t)][0] - cells[(RANDOM, t)][0] for t in targets] for s in sources if s != RANDOM])
    rows = [s for s in sources if s != RANDOM]
    limit = max(float(np.abs(gain).max()), 1e-3)
    fig, ax = plt.subplots(figsize=(1.6 * len(targets) + 2.5, 0.8 * len(rows) + 2))
    image = ax.imshow(gain, cmap="RdBu", vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(targets)), targets, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("target domain")
    ax.set_ylabel("trunk pretrained on")
    for i in range(len(rows)):
        for j in range(len(targets)):
            dark = abs(gain[i, j]) > 0.6 * limit  # white text on the deep ends of the colour map
            colour = "white" if dark else "black"
            ax.text(j, i, f"{gain[i, j]:+.3f}", ha="center", va="center", fontsize=9, color=colour)
    fig.colorbar(image, ax=ax, label=f"{protocol} gain over random init")
    ax.set_title(f"cross-domain transfer ({protocol})")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
