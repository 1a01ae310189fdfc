"""Collect the `DomainBench` of every installed domain that offers one (its `synergy` hook)."""

from __future__ import annotations

from pathlib import Path

from hfm.shared.domain_bench import DomainBench
from hfm.shared.errors import HFMError
from hfm.shared.plugins import installed_domains


def collect_benches(work_dir: Path, smoke: bool, seed: int, only: list[str] | None = None) -> list[DomainBench]:
    benches = []
    offered = []
    for domain in installed_domains():
        if only and domain.name not in only:
            continue
        hook = domain.load().hooks.get("synergy")
        if hook is None:
            continue
        offered.append(domain.name)
        bench = hook(work_dir / domain.name, smoke, seed)
        if not isinstance(bench, DomainBench):
            raise HFMError(f"domain {domain.name!r}: its synergy hook returned {type(bench).__name__}, not DomainBench")
        benches.append(bench)
    if only and (unknown := sorted(set(only) - {d.name for d in installed_domains()})):
        raise HFMError(f"not installed: {', '.join(unknown)}")
    if len(benches) < 2:
        raise HFMError(
            f"cross-domain experiments need at least two domains with a synergy hook; found {offered or 'none'}"
        )
    return benches
