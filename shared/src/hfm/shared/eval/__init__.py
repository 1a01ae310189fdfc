"""Evaluation protocols: probes on frozen embeddings, fine-tuning, label-efficiency curves, reports.

Names are imported on first use (PEP 562), so `hfm.shared.eval.figures` and `.stats` load without torch or
scikit-learn: the CLI's help and the report renderers stay fast. `finetune` is not re-exported: the package
attribute of that name is the submodule once imported; import the function from `hfm.shared.eval.finetune`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "EfficiencyCurve": "efficiency",
    "EfficiencyPoint": "efficiency",
    "label_efficiency": "efficiency",
    "subsample": "efficiency",
    "as_encoder": "embeddings",
    "embed": "embeddings",
    "adapt": "finetune",
    "AdaptOptions": "finetune",
    "compare_curves": "efficiency",
    "paired_label_efficiency": "efficiency",
    "ProbeResult": "probes",
    "knn_probe": "probes",
    "linear_probe": "probes",
    "plot_label_efficiency": "report",
    "write_report": "report",
    "mean_confidence_interval": "stats",
    "Figure": "figures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    # Cache the name: later lookups skip this hook.
    globals()[name] = value
    return value
