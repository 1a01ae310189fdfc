"""hfm-radiome against the conformance kit; KNOWN_GAPS pins what it does not yet follow (issue 22)."""

import hfm.radiome
from hfm.radiome.plugin import plugin
from hfm.shared.testing.conformance import known_gaps

KNOWN_GAPS = [
    "cli: 'benchmark' lacks --out",
    "cli: 'curate' lacks --out",
    "cli: 'evaluate' lacks --out",
    "cli: 'finetune' lacks --init",
    "cli: 'finetune' lacks --set",
    "cli: 'predict' lacks --init",
    "cli: 'predict' lacks --out",
    "cli: 'pretrain' lacks --model",
    "cli: 'pretrain' lacks --set",
    "layout: no module 'benchmarks'",
    "layout: no module 'contract'",
    "layout: no module 'experiments'",
    "layout: no module 'format'",
    "layout: no module 'readers'",
    "layout: no module 'synergy'",
    "layout: odd module 'benchmark'",
    "layout: odd module 'brain'",
    "layout: odd module 'experiment'",
    "layout: odd module 'fingerprint'",
    "layout: odd module 'infer'",
    "layout: odd module 'nnunet'",
    "layout: odd module 'phantoms'",
    "layout: odd module 'preprocess'",
    "layout: odd module 'synergy_bench'",
    "layout: odd module 'synth'",
    "layout: odd module 'synthseg_train'",
    "layout: odd module 'tissue'",
    "layout: odd module 'tissue_bench'",
    "layout: odd module 'volume'",
]


def test_conformance_gaps_are_exactly_the_known_ones():
    assert known_gaps(plugin, hfm.radiome) == KNOWN_GAPS  # a new gap is a regression; a closed one leaves the list
