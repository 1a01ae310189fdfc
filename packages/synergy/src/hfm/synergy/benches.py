"""Collect the `DomainBench` of every installed domain that offers one (its `synergy` hook)."""

from __future__ import annotations

from pathlib import Path

from hfm.shared.domain_bench import DomainBench
from hfm.shared.errors import HFMError
from hfm.shared.plugins import installed_domains


def collect_benches(
    work_dir: Path, smoke: bool, seed: int, only: list[str] | None = None, skipped: dict[str, str] | None = None
) -> list[DomainBench]:
    """Benches of the selected domains; a domain whose data is missing is left out with its reason in `skipped`."""
    benches = []
    skipped = {} if skipped is None else skipped
    for domain in installed_domains():
        if only and domain.name not in only:
            continue
        hook = domain.load().hooks.get("synergy")
        if hook is None:
            continue
        try:
            bench = hook(work_dir / domain.name, smoke, seed)
        except (HFMError, FileNotFoundError) as error:  # e.g. a data package that is not installed
            skipped[domain.name] = str(error)
            continue
        if not isinstance(bench, DomainBench):
            raise HFMError(f"domain {domain.name!r}: its synergy hook returned {type(bench).__name__}, not DomainBench")
        benches.append(bench)
    if only and (unknown := sorted(set(only) - {d.name for d in installed_domains()})):
        raise HFMError(f"not installed: {', '.join(unknown)}")
    if len(benches) < 2:
        raise HFMError(
            f"cross-domain experiments need at least two domains with a synergy hook and their data; found "
            f"{[b.domain for b in benches] or 'none'}"
            + (f" (skipped: {'; '.join(f'{k}: {v}' for k, v in skipped.items())})" if skipped else "")
        )
    return benches
