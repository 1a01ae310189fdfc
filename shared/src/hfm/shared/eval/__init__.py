"""Evaluation protocols: probes on frozen embeddings, fine-tuning, label-efficiency curves, reports."""

from hfm.shared.eval.efficiency import EfficiencyCurve, EfficiencyPoint, label_efficiency, subsample
from hfm.shared.eval.embeddings import as_encoder, embed
from hfm.shared.eval.finetune import finetune
from hfm.shared.eval.probes import ProbeResult, knn_probe, linear_probe
from hfm.shared.eval.report import plot_label_efficiency, write_report
from hfm.shared.eval.stats import mean_confidence_interval

__all__ = [
    "EfficiencyCurve",
    "EfficiencyPoint",
    "ProbeResult",
    "as_encoder",
    "embed",
    "finetune",
    "knn_probe",
    "label_efficiency",
    "linear_probe",
    "mean_confidence_interval",
    "plot_label_efficiency",
    "subsample",
    "write_report",
]
