"""The seismic benchmark: hfm's picker against STA/LTA, AIC and PhaseNetLight, side by side in one run.

1. Pretrain the MAE on unlabelled windows (synthetic records and the real seisbench-dummy training traces).
2. Fine-tune the picker on labelled synthetic windows; label efficiency: from the pretrained encoder and from
   scratch at 1%, 10% and 100% of the labels, each over several seeds (label subset and training), mean and Student-t
   95% interval.
3. Score every method on the same windows (`evaluation.py`): synthetic test records, seisbench-dummy test traces with
   iasp91 onsets (theoretical, see `reference_data.py`), the Tohoku record with its analyst P pick.
4. Loader speed: windows/s of hfm's SeisBench reader against SeisBench's own generator on the same HDF5.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from hfm.seismic.baselines import AicPicker, StaLtaPicker
from hfm.seismic.evaluation import PickScores, score_aic, score_model, score_stalta, scores_table
from hfm.seismic.peers import PhaseNetLightPeer
from hfm.seismic.reference_data import dummy_windows, tohoku_window
from hfm.seismic.seisbench_format import SeisBenchDataset
from hfm.seismic.training import finetune, pretrain
from hfm.seismic.windows import LabelledWindows, synthetic_windows
from hfm.shared.errors import HFMError
from hfm.shared.eval.efficiency import EfficiencyCurve, EfficiencyPoint
from hfm.shared.eval.report import plot_label_efficiency
from hfm.shared.eval.stats import format_interval, mean_confidence_interval
from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.sample_data import shared_data_dir

COMMAND = "hfm seismic evaluate"


@dataclass
class BenchConfig:
    samples: int = 1000  # 10 s at 100 Hz
    pretrain_windows: int = 1024
    pretrain_steps: int = 1000  # the spectral MAE loss still falls at 200 steps; 1000 take about 40 s on one thread
    mae_target: str = "spectrum"  # or "waveform", the raw-sample target whose loss stays at the variance
    finetune_windows: int = 2048
    finetune_steps: int = 1000  # ~15 passes over the windows: 200 steps left the picker far from converged
    test_windows: int = 200
    fractions: tuple[float, ...] = (0.01, 0.1, 1.0)
    efficiency_steps: int = 250
    efficiency_seeds: tuple[int, ...] = (0, 1, 2)
    batch_size: int = 32
    seed: int = 0
    dummy_split: str | None = "test"

    @classmethod
    def smoke(cls) -> BenchConfig:
        return cls(
            pretrain_windows=64,
            pretrain_steps=10,
            finetune_windows=64,
            finetune_steps=10,
            test_windows=24,
            fractions=(0.1, 1.0),
            efficiency_steps=5,
            efficiency_seeds=(0,),
            batch_size=16,
        )


def cut_event_windows(traces: LabelledWindows, samples: int, seed: int) -> LabelledWindows:
    """Windows of `samples` from long traces: one with P at a seeded place in its first half and, where the trace
    reaches far enough before P, one noise window ending a second before P; traces without P give a noise window."""
    rng = np.random.default_rng(seed)
    rate, margin = traces.sampling_rate, int(traces.sampling_rate)
    waves, p_out, s_out = [], [], []
    length = traces.waveforms.shape[-1]
    for wave, p, s in zip(traces.waveforms, traces.p_sample, traces.s_sample, strict=True):
        if not np.isfinite(p):  # a noise trace: its first window
            waves.append(wave[:, :samples])
            p_out.append(np.nan)
            s_out.append(np.nan)
            continue
        start = int(np.clip(p - rng.uniform(0.1, 0.5) * samples, 0, length - samples))
        waves.append(wave[:, start : start + samples])
        p_out.append(p - start)
        s_out.append(s - start if np.isfinite(s) and s - start < samples else np.nan)
        if p - margin - samples >= 0:
            end = int(p - margin)
            waves.append(wave[:, end - samples : end])
            p_out.append(np.nan)
            s_out.append(np.nan)
    return LabelledWindows(np.stack(waves), np.array(p_out), np.array(s_out), rate, traces.name)


def _predict(model: torch.nn.Module, windows: LabelledWindows, batch: int = 64) -> np.ndarray:
    model.eval()
    out = []
    with torch.no_grad():
        for start in range(0, len(windows), batch):
            logits = model(torch.from_numpy(windows.waveforms[start : start + batch]))
            out.append(logits[:, :3].softmax(dim=1).numpy())
    return np.concatenate(out)


def compare(
    model: torch.nn.Module, windows: LabelledWindows, peer: PhaseNetLightPeer | None, seed: int
) -> list[PickScores]:
    rows = [score_model("hfm picker (pretrained)", _predict(model, windows), windows, seed=seed)]
    rows.append(score_stalta(StaLtaPicker(), windows, seed=seed))
    rows.append(score_aic(AicPicker(), windows, seed=seed))
    if peer is not None:
        rows.append(score_model(peer.name, peer.predict(windows.waveforms), windows, seed=seed))
    return rows


def loader_speed(root: Path, passes: int = 3) -> dict[str, float | None]:
    """Windows per second: hfm's reader vs SeisBench's WaveformDataset + GenericGenerator, same file, same order."""
    ours = SeisBenchDataset(root)
    count = len(ours) * passes
    start = time.perf_counter()
    for _ in range(passes):
        for index in range(len(ours)):
            ours.waveform(index)
    hfm_rate = count / (time.perf_counter() - start)
    ours.close()
    try:
        import seisbench.data as sbd
        import seisbench.generate as sbg
    except ImportError:
        return {"hfm_windows_per_s": hfm_rate, "seisbench_windows_per_s": None}
    generator = sbg.GenericGenerator(sbd.WaveformDataset(root, cache=None, component_order="ZNE"))
    start = time.perf_counter()
    for _ in range(passes):
        for index in range(len(generator)):
            generator[index]
    return {"hfm_windows_per_s": hfm_rate, "seisbench_windows_per_s": count / (time.perf_counter() - start)}


def run_benchmark(out_dir: str | Path, config: BenchConfig | None = None, progress: bool = False) -> dict[str, Any]:
    config = config or BenchConfig()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = shared_data_dir()
    seismic = data / "seismic" if data else None
    if seismic is None or not (seismic / "seisbench-dummy").is_dir():
        raise HFMError("the seismic benchmark needs ../shared/data/seismic (or HFM_SHARED_DATA)")
    torch.manual_seed(config.seed)
    dummy_train = dummy_windows(seismic / "seisbench-dummy", split="train")
    real_unlabelled = cut_event_windows(dummy_train, config.samples, config.seed)
    synthetic = synthetic_windows(config.pretrain_windows, config.seed + 100, config.samples)
    unlabelled = LabelledWindows(
        np.concatenate([synthetic.waveforms, real_unlabelled.waveforms]),
        np.full(len(synthetic) + len(real_unlabelled), np.nan),
        np.full(len(synthetic) + len(real_unlabelled), np.nan),
        100.0,
        "unlabelled",
    )
    args = {"samples": config.samples}
    _, pre = pretrain(
        {**args, "data": unlabelled, "model_args": {"target": config.mae_target}},
        out_dir / "pretrain",
        steps=config.pretrain_steps,
        batch_size=config.batch_size,
        seed=config.seed,
        progress=progress,
    )
    init = str(out_dir / "pretrain" / "final")
    train = synthetic_windows(config.finetune_windows, config.seed + 200, config.samples)
    model, fine = finetune(
        {**args, "data": train, "init": init},
        out_dir / "finetune",
        steps=config.finetune_steps,
        batch_size=config.batch_size,
        seed=config.seed,
        progress=progress,
    )
    try:
        peer: PhaseNetLightPeer | None = PhaseNetLightPeer(seismic / "peers")
    except HFMError as error:
        peer, peer_note = None, str(error)
    else:
        peer_note = ""
    test_sets = {
        "synthetic": synthetic_windows(config.test_windows, config.seed + 300, config.samples),
        "seisbench-dummy (iasp91)": cut_event_windows(
            dummy_windows(seismic / "seisbench-dummy", split=config.dummy_split), config.samples, config.seed + 1
        ),
        "Tohoku II.TLY (analyst P)": tohoku_window(samples=config.samples, p_offset_s=3.7),
    }
    results = {name: compare(model, windows, peer, config.seed) for name, windows in test_sets.items()}

    efficiency = []
    for fraction in config.fractions:
        for label, start_from in (("pretrained", init), ("scratch", None)):
            options = {
                **args,
                "data": train,
                "label_fraction": fraction,
                **({"init": start_from} if start_from else {}),
            }
            for seed in config.efficiency_seeds:  # the seed draws the label subset and the head's initial weights
                run = out_dir / "efficiency" / f"{label}-{fraction:g}-seed{seed}"
                small, _ = finetune(
                    options,
                    run,
                    steps=config.efficiency_steps,
                    batch_size=config.batch_size,
                    seed=config.seed + seed,
                    progress=progress,
                )
                scores = score_model(label, _predict(small, test_sets["synthetic"]), test_sets["synthetic"])
                efficiency.append({"fraction": fraction, "start": label, "seed": seed, **asdict(scores)})
    summary = summarise_efficiency(efficiency)
    plot_efficiency(summary, len(train), out_dir / "label_efficiency.png")
    speed = loader_speed(seismic / "seisbench-dummy")
    report = {
        "config": asdict(config),
        "pretrain": {"steps": pre.step, "samples_per_s": pre.samples_per_s},
        "finetune": {"steps": fine.step, "samples_per_s": fine.samples_per_s},
        "results": {name: [asdict(r) for r in rows] for name, rows in results.items()},
        "label_efficiency": efficiency,
        "label_efficiency_summary": summary,
        "loader": speed,
        "peer_note": peer_note,
    }
    write_atomic(out_dir / "benchmark.json", dump_json(report))
    write_atomic(out_dir / "benchmark.md", markdown(report, results))
    return report


EFFICIENCY_METRICS = ("detection_auc", "phase_mcc", "p_mae_s")


def summarise_efficiency(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and Student-t 95% interval over seeds, per label fraction and start (NaN interval with one seed)."""
    groups: dict[tuple[float, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["fraction"], row["start"]), []).append(row)
    summary = []
    for (fraction, start), members in groups.items():
        entry: dict[str, Any] = {"fraction": fraction, "start": start, "seeds": len(members)}
        for metric in EFFICIENCY_METRICS:
            values = [m[metric] for m in members if m[metric] is not None]
            entry[metric] = mean_confidence_interval(values) if values else None
        summary.append(entry)
    return summary


def plot_efficiency(summary: list[dict[str, Any]], windows: int, path: Path) -> Path:
    """Detection ROC-AUC against labelled windows, pretrained and scratch, with 95% bands (chance is 0.5)."""
    curves = []
    for start in ("pretrained", "scratch"):
        points = [
            EfficiencyPoint(row["fraction"], max(2, math.ceil(row["fraction"] * windows)), [], *row["detection_auc"])
            for row in sorted(summary, key=lambda r: r["fraction"])
            if row["start"] == start and row["detection_auc"] is not None
        ]
        curves.append(EfficiencyCurve(f"picker, {start}", "fine-tune", "detection ROC-AUC", 0.5, points))
    return plot_label_efficiency(curves, path, "seismic label efficiency (synthetic test set)")


def _interval(stat: tuple[float, float, float] | None) -> str:
    if stat is None:
        return "n/a"
    return format_interval(*stat)


def markdown(report: dict[str, Any], results: dict[str, list[PickScores]]) -> str:
    lines = ["## Phase picking and detection (SeisBench pick-benchmark metrics)", ""]
    for name, rows in results.items():
        lines += [f"### {name}", "", scores_table(rows), ""]
    lines += [
        "### Label efficiency (synthetic test set; mean over seeds [95% interval])",
        "",
        "| labels | start | seeds | detection ROC-AUC | phase MCC | P MAE (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in report["label_efficiency_summary"]:
        cells = " | ".join(_interval(row[k]) for k in EFFICIENCY_METRICS)
        lines.append(f"| {row['fraction']:.0%} | {row['start']} | {row['seeds']} | {cells} |")
    lines += ["", "![label efficiency](label_efficiency.png)"]
    speed = report["loader"]
    theirs = speed["seisbench_windows_per_s"]
    lines += [
        "",
        "### Loader",
        "",
        f"hfm reader {speed['hfm_windows_per_s']:.0f} windows/s; SeisBench generator "
        + (f"{theirs:.0f} windows/s" if theirs else "not installed"),
        "",
    ]
    if report["peer_note"]:
        lines += [f"PhaseNetLight not run: {report['peer_note']}", ""]
    return "\n".join(lines)


def figures(report: dict[str, Any], command: str = COMMAND) -> list[dict[str, Any]]:
    """The benchmark harness's figure dicts: hfm against the strongest classic baseline and the peer."""
    out = []

    def add(name: str, value: float | None, baseline: float | None, unit: str, notes: str = "") -> None:
        if value is None or baseline is None:
            return
        ratio = value / baseline if baseline else None
        figure = {"name": name, "value": value, "baseline": baseline, "ratio": ratio, "unit": unit, "command": command}
        out.append(figure | ({"notes": notes} if notes else {}))

    for dataset, rows in report["results"].items():
        by = {r["method"]: r for r in rows}
        hfm = by["hfm picker (pretrained)"]
        add(
            f"seismic {dataset}: detection ROC-AUC, hfm vs STA/LTA",
            hfm["detection_auc"],
            by["STA/LTA"]["detection_auc"],
            "ROC-AUC",
        )
        add(f"seismic {dataset}: P onset MAE, hfm vs AIC", hfm["p_mae_s"], by["AIC"]["p_mae_s"], "s")
        peer = next((r for m, r in by.items() if m.startswith("PhaseNetLight")), None)
        if peer is not None:
            add(f"seismic {dataset}: P onset MAE, hfm vs PhaseNetLight", hfm["p_mae_s"], peer["p_mae_s"], "s")
            add(f"seismic {dataset}: phase MCC, hfm vs PhaseNetLight", hfm["phase_mcc"], peer["phase_mcc"], "MCC")
    summary = {(r["fraction"], r["start"]): r for r in report.get("label_efficiency_summary", [])}
    for (fraction, start), row in summary.items():
        scratch = summary.get((fraction, "scratch"))
        if start != "pretrained" or scratch is None:
            continue
        for metric, title, unit in (("detection_auc", "detection ROC-AUC", "ROC-AUC"), ("p_mae_s", "P onset MAE", "s")):
            if row[metric] is None or scratch[metric] is None:
                continue
            add(
                f"seismic label efficiency, {fraction:.0%} labels: {title}, pretrained vs scratch",
                row[metric][0],
                scratch[metric][0],
                unit,
                f"synthetic test set, mean of {row['seeds']} seeds; pretrained {_interval(row[metric])}, "
                f"scratch {_interval(scratch[metric])}",
            )
    speed = report["loader"]
    add(
        "seismic loader: windows/s, hfm vs SeisBench generator",
        speed["hfm_windows_per_s"],
        speed["seisbench_windows_per_s"],
        "windows/s",
    )
    return out


def bench_figures() -> list[dict[str, Any]]:
    """Entry point of the `hfm.benchmarks` group (CI-sized run into a temporary folder)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return figures(run_benchmark(folder, BenchConfig()))
