"""Energy a run used, from the machine's own counters; unknown (null, with the reason) where there are none.

- GPU: NVML's total-energy counter (millijoules since the driver loaded, Volta and newer), through nvidia-ml-py.
- CPU: RAPL package counters in /sys/class/powercap/intel-rapl:N/energy_uj (microjoules). They wrap at
  max_energy_range_uj, so the meter is sampled often enough (every log step) to see at most one wrap per interval.

Nothing is estimated from TDP or utilisation: a figure is either read from a counter or null.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RAPL_ROOT = Path("/sys/class/powercap")
_PACKAGE_ZONE = re.compile(r"^intel-rapl:\d+$")  # packages only: sub-zones (cores, dram) are inside them


@dataclass
class _Counter:
    """A monotone counter that may wrap at `wrap`; `total` accumulates the increments seen."""

    last: int
    wrap: int | None
    total: int = 0

    def update(self, value: int) -> None:
        delta = value - self.last
        if delta < 0:
            delta += self.wrap if self.wrap else 0
        self.total += max(delta, 0)
        self.last = value


@dataclass
class RaplMeter:
    root: Path = RAPL_ROOT
    counters: dict[Path, _Counter] = field(default_factory=dict)
    reason: str | None = None

    def start(self) -> None:
        zones = sorted(p for p in self.root.glob("intel-rapl:*") if _PACKAGE_ZONE.match(p.name))
        if not zones:
            self.reason = f"no RAPL package zones under {self.root}"
            return
        try:
            for zone in zones:
                wrap_file = zone / "max_energy_range_uj"
                wrap = int(wrap_file.read_text()) if wrap_file.exists() else None
                self.counters[zone] = _Counter(last=int((zone / "energy_uj").read_text()), wrap=wrap)
        except (OSError, ValueError) as error:
            self.counters.clear()
            self.reason = f"RAPL counters not readable ({error.__class__.__name__}: {error})"

    def sample(self) -> None:
        for zone, counter in self.counters.items():
            try:
                counter.update(int((zone / "energy_uj").read_text()))
            except (OSError, ValueError) as error:
                self.reason = f"RAPL counter {zone} became unreadable ({error})"
                self.counters.clear()
                return

    def joules(self) -> float | None:
        if not self.counters:
            return None
        return sum(c.total for c in self.counters.values()) / 1e6


@dataclass
class NvmlMeter:
    device_index: int | None
    counter: _Counter | None = None
    reason: str | None = None
    _handle: Any = None

    def start(self) -> None:
        if self.device_index is None:
            self.reason = "no GPU used by this process"
            return
        try:
            import pynvml
        except ImportError:
            self.reason = "nvidia-ml-py (pynvml) is not installed"
            return
        try:
            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(self.device_index)
            self.counter = _Counter(last=int(pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)), wrap=None)
        except Exception as error:  # NVMLError subclasses: not supported, no permission, driver missing
            self.reason = f"NVML energy counter unavailable ({error})"
            self.counter = None

    def sample(self) -> None:
        if self.counter is None:
            return
        import pynvml

        try:
            self.counter.update(int(pynvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)))
        except Exception as error:
            self.reason = f"NVML energy counter became unreadable ({error})"
            self.counter = None

    def joules(self) -> float | None:
        return None if self.counter is None else self.counter.total / 1e3


class EnergyMeter:
    """Energy of this process's GPU and, on the first process of each node, of the node's CPU packages."""

    def __init__(self, gpu_index: int | None, read_cpu: bool, rapl_root: Path = RAPL_ROOT) -> None:
        self.gpu = NvmlMeter(gpu_index)
        self.cpu = RaplMeter(rapl_root) if read_cpu else None

    def start(self) -> None:
        self.gpu.start()
        if self.cpu is not None:
            self.cpu.start()

    def sample(self) -> None:
        self.gpu.sample()
        if self.cpu is not None:
            self.cpu.sample()

    def report(self) -> dict[str, Any]:
        self.sample()
        out = {"gpu_joules": self.gpu.joules(), "gpu_reason": self.gpu.reason}
        if self.cpu is not None:
            out.update(cpu_joules=self.cpu.joules(), cpu_reason=self.cpu.reason)
        return out


def combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum per-process reports into one figure per source; null with the reasons if any process lacks it."""
    out: dict[str, Any] = {}
    for source in ("gpu", "cpu"):
        values = [r for r in reports if f"{source}_joules" in r]
        known = [r[f"{source}_joules"] for r in values if r[f"{source}_joules"] is not None]
        if values and len(known) == len(values):
            out[source] = {"joules": sum(known), "reason": None, "processes": len(values)}
        else:
            reasons = sorted({r[f"{source}_reason"] for r in values if r.get(f"{source}_reason")})
            out[source] = {"joules": None, "reason": "; ".join(reasons) or "not measured", "processes": len(values)}
    return out
