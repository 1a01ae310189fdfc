"""Benchmark `curation-scale`: sharded curation's items/s at 1 and 2 workers, and its peak memory at 10k vs 1M items.

Throughput: 10,000 raw `.npy` files cut from the 154 real PhaseNet NCEDC waveforms (3 x 512 samples at a random
offset, random gain, added noise: "jittered"), curated (read, validated, statistics, one safetensors file each) with
1 and with 2 workers, alternating which goes first, `repeats` times; the paired bootstrap of the median difference
over repeats is the interval. Memory: the same driver in a fresh child process over 10,000 and over 1,000,000 items
made from the real waveforms (3 x 64 snippets, gain by index) with a cheap writer (one packed file per shard): the
peak RSS of the driver (its `VmHWM`: Linux's `getrusage(RUSAGE_SELF)` keeps the launching process's peak across
exec) and of its largest worker (`getrusage(RUSAGE_CHILDREN)`); one run each, so no interval.

The machine's own ceiling is measured in the same run, after each repeat: a pure-Python loop in one forked process
and in two at once (same work each). On a shared machine the second core is not all ours; this says how much of it
there was, so a ratio below the goal can be told apart from a driver that does not scale.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hfm.shared.arraystore import ArrayStoreWriter
from hfm.shared.contracts import ArraySpec, Sample, SampleContract
from hfm.shared.curation import CurationItem
from hfm.shared.eval.figures import Figure
from hfm.shared.eval.stats import paired_bootstrap
from hfm.shared.sample_data import require_data
from hfm.shared.shard_curation import ShardJob, curate_sharded

COMMAND = "nox -s bench  (python tools/bench.py --only curation-scale)"
WAVEFORMS = "seismic/phasenet-ncedc/dataset/waveform_train"
SNIPPET = 512
CONTRACT = SampleContract(
    name="snippet", arrays=[ArraySpec(name="waveform", dims=["channel", "time"], dtype="float32", shape=[3, None])]
)


def real_waveforms() -> list[np.ndarray]:
    """The 154 real event windows, (3, 9001) float32 each (DataUnavailable names the fetch command if absent)."""
    return [np.load(p)["data"].T.astype(np.float32) for p in sorted(require_data(WAVEFORMS).glob("*.npz"))]


def write_jittered_raw(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` raw files, each a real waveform's 3 x 512 snippet at a random offset, gain and noise level."""
    rng = np.random.default_rng(seed)
    waveforms = real_waveforms()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        wave = waveforms[i % len(waveforms)]
        start = int(rng.integers(0, wave.shape[1] - SNIPPET))
        snippet = wave[:, start : start + SNIPPET] * rng.uniform(0.5, 2.0)
        snippet = snippet + rng.normal(0, 0.05 * (float(snippet.std()) + 1e-6), snippet.shape)
        paths.append(folder / f"snippet-{i:06d}.npy")
        np.save(paths[-1], snippet.astype(np.float32))
    return paths


def _file_item(path: Path) -> CurationItem:
    return CurationItem(path.stem, [path], lambda: Sample(arrays={"waveform": np.load(path, allow_pickle=False)}))


def _cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process (the driver) and of its finished children (the forked workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def items_per_second(paths: list[Path], out: Path, workers: int, shard_size: int = 500) -> tuple[float, float, float]:
    """(items per wall second, CPU milliseconds per item, the driver's part of them): on a loaded machine the CPU
    shows whether the workers cost more per item, i.e. whether a missing speed-up is the code's or the neighbours'."""
    job = ShardJob(CONTRACT, ArrayStoreWriter(), None, "split")
    start, (driver, workers_cpu) = time.perf_counter(), _cpu_seconds()
    items = (_file_item(p) for p in paths)
    curate_sharded(items, out, job, shard_size=shard_size, workers=workers, show_progress=False)
    seconds, (driver_after, workers_after) = time.perf_counter() - start, _cpu_seconds()
    driver_ms = 1000 * (driver_after - driver) / len(paths)
    return len(paths) / seconds, driver_ms + 1000 * (workers_after - workers_cpu) / len(paths), driver_ms


class PackedWriter:
    """The cheap writer of the memory runs: every sample of a shard appended to one file, nothing kept."""

    format_name = "packed-float32"

    def open(self, root: Path) -> None:
        self._handle = open(root / "samples.bin", "wb")  # noqa: SIM115 (open from open() to close())

    def write(self, key: str, sample: Sample) -> None:
        self._handle.write(np.ascontiguousarray(sample.arrays["waveform"]).tobytes())

    def close(self) -> list[str]:
        self._handle.close()
        return ["samples.bin"]


def template_items(count: int, templates: list[np.ndarray]):
    """`count` items from the real templates: item i is template i % k scaled by a gain that depends on i."""
    for i in range(count):
        wave = templates[i % len(templates)] * np.float32(1 + (i % 97) / 100)
        yield CurationItem(f"item-{i:07d}", [], lambda wave=wave: Sample(arrays={"waveform": wave}))


_RSS_CHILD = """
import json, resource, sys
from pathlib import Path
from hfm.shared.curation_bench import CONTRACT, PackedWriter, real_waveforms, template_items
from hfm.shared.shard_curation import ShardJob, curate_sharded
count, out = int(sys.argv[1]), Path(sys.argv[2])
templates = [w[:, 1000:1064].copy() for w in real_waveforms()]
curate_sharded(template_items(count, templates), out, ShardJob(CONTRACT, PackedWriter(), None, "split"),
               shard_size=5000, workers=2, show_progress=False)
# the driver's own high-water mark: getrusage(RUSAGE_SELF) would carry the launching process's peak over exec
status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
driver = int(status["VmHWM"].split()[0]) * 1024
print(json.dumps({"driver": driver, "workers": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}))
"""


def peak_rss(count: int, out: Path) -> dict[str, int]:
    """Peak RSS in bytes of the driver and of its largest worker, curating `count` items in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(count), str(out)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"memory run of {count} items failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _spin(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def cpu_ceiling(iterations: int) -> float:
    """Speed-up of 2 forked processes over 1 on a pure-Python loop (each does `iterations`), now."""
    context = multiprocessing.get_context("fork")

    def seconds(processes: int) -> float:
        start = time.perf_counter()
        running = [context.Process(target=_spin, args=(iterations,)) for _ in range(processes)]
        for process in running:
            process.start()
        for process in running:
            process.join()
        return time.perf_counter() - start

    alone = seconds(1)
    return 2 * alone / seconds(2)


def _median(values: np.ndarray, _indices: np.ndarray) -> float:
    return float(statistics.median(values))


@dataclass(frozen=True)
class ScaleSizes:
    """How much `curation-scale` curates: the benchmark runs the defaults; tests pass small ones."""

    items: int = 10_000  # raw files in each throughput run
    repeats: int = 3  # throughput runs at 1 and at 2 workers (alternating which goes first)
    small: int = 10_000  # items of the smaller memory run
    large: int = 1_000_000  # items of the larger memory run
    ceiling_iterations: int = 5_000_000  # loop length per process of the machine's 2-vs-1 ceiling


def curation_scale(sizes: ScaleSizes = ScaleSizes()) -> list[Figure]:
    """Items/s at 2 workers vs 1 (`sizes.items` files, `sizes.repeats` times) and peak RSS at `sizes.large` items vs
    `sizes.small`."""
    items, repeats, small, large = sizes.items, sizes.repeats, sizes.small, sizes.large
    with tempfile.TemporaryDirectory(prefix="hfm-curation-bench-") as tmp:
        paths = write_jittered_raw(Path(tmp) / "raw", items)
        one: list[float] = []
        two: list[float] = []
        cpu_ms: dict[int, list[float]] = {1: [], 2: []}
        driver_ms: list[float] = []
        ceilings: list[float] = []
        for r in range(repeats):
            for workers, rates in ((1, one), (2, two)) if r % 2 == 0 else ((2, two), (1, one)):
                rate, per_item, driver = items_per_second(paths, Path(tmp) / f"out-{r}-{workers}", workers)
                rates.append(rate)
                cpu_ms[workers].append(per_item)
                if workers == 2:
                    driver_ms.append(driver)
            ceilings.append(cpu_ceiling(sizes.ceiling_iterations))
        load = os.getloadavg()[0]
        started = time.perf_counter()
        small_rss = peak_rss(small, Path(tmp) / "small")
        large_rss = peak_rss(large, Path(tmp) / "large")
        memory_s = time.perf_counter() - started
    _, low, high = paired_bootstrap(two, one, statistic=_median)
    speedups = sorted(t / o for t, o in zip(two, one, strict=True))
    small_peak, large_peak = (max(r.values()) for r in (small_rss, large_rss))
    return [
        Figure(
            name="sharded curation: items/s with 2 workers vs 1",
            task="core/curation at scale",
            metric="items/s",
            higher_is_better=True,
            value=statistics.median(two),
            baseline=statistics.median(one),
            baseline_name="same curation, 1 worker",
            n_test=repeats,
            test_unit="repeats",
            interval=(low, high),
            interval_method=f"paired bootstrap of the median over {repeats} repeats, 2000 resamples",
            unit="items/s",
            command=COMMAND,
            headline=True,
            goal="ratio >= 1.8",
            notes=f"{items} jittered 3x{SNIPPET} snippets of the 154 real PhaseNet NCEDC waveforms, shards of 500, "
            f"hfm-arrays writer; per-repeat speed-ups {', '.join(f'{s:.2f}' for s in speedups)}; CPU ms per item "
            f"(median) 1 worker {statistics.median(cpu_ms[1]):.3f}, 2 workers {statistics.median(cpu_ms[2]):.3f} "
            f"(of which the driver {statistics.median(driver_ms):.3f}); the machine's ceiling in the same run, a "
            f"pure-Python loop in 2 forked processes vs 1: {', '.join(f'{c:.2f}' for c in sorted(ceilings))}; "
            f"1-min load after the throughput runs {load:.1f} on {os.cpu_count()} CPUs",
        ),
        Figure(
            name=f"sharded curation: peak RSS at {large:,} items vs {small:,}",
            task="core/curation at scale",
            metric="peak RSS",
            higher_is_better=False,
            value=large_peak / 2**20,
            baseline=small_peak / 2**20,
            baseline_name=f"same curation of {small:,} items",
            n_test=1,
            test_unit="runs",
            interval=(float("nan"), float("nan")),
            interval_method="one run each: no interval",
            unit="MiB",
            command=COMMAND,
            goal="ratio <= 1.5",
            notes=f"3x64 real-waveform templates, gain by index, packed writer, shards of 5000, 2 workers; "
            f"driver / largest worker MiB: {small:,}: {small_rss['driver'] / 2**20:.0f} / "
            f"{small_rss['workers'] / 2**20:.0f}, {large:,}: {large_rss['driver'] / 2**20:.0f} / "
            f"{large_rss['workers'] / 2**20:.0f}; both memory runs {memory_s:.0f} s",
        ),
    ]
