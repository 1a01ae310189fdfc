"""hfm-seismic against the domain conformance kit (hfm.shared.testing.conformance).

KNOWN_GAPS pins what this domain does not yet conform to (issue 22: one module layout, one CLI shape). The test
fails when the list changes either way: a new gap is a regression, a closed one must be removed from the list.
"""

from __future__ import annotations

from pathlib import Path

import hfm.seismic
from hfm.seismic.plugin import plugin
from hfm.shared.testing.conformance import check_domain

KNOWN_GAPS = [
    "cli: 'curate' lacks --out",
    "cli: 'evaluate' lacks --out",
    "cli: 'finetune' lacks --lr",
    "cli: 'finetune' lacks --out",
    "cli: 'finetune' lacks --set",
    "cli: 'pretrain' lacks --lr",
    "cli: 'pretrain' lacks --out",
    "cli: 'pretrain' lacks --set",
    "cli: no 'benchmark' command",
    "cli: no 'predict' command",
    "layout: no module 'benchmarks'",
    "layout: no module 'curate'",
    "layout: no module 'data'",
    "layout: no module 'experiments'",
    "layout: no module 'format'",
    "layout: no module 'synergy'",
]


def test_conformance_gaps_are_exactly_the_known_ones():
    found = [str(v) for v in check_domain(plugin, Path(hfm.seismic.__file__).parent)]
    assert found == KNOWN_GAPS
