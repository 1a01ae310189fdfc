"""The seismic step of `hfm quickstart`: real records to a pretrained picker, offline, in a minute or two.

1. Curate: the real IPOC traces of seisbench-dummy, written out as miniSEED files as a user's archive would be, and
   ObsPy's Tohoku SAC record, with a pick catalogue (iasp91 P/S for IPOC, the analyst P for Tohoku) -> SeisBench
   dataset with card and quarantine report.
2. Pretrain the whole picker briefly with the benchmark's onset objective (`training.pretrain_onset`) on real
   unlabelled waveforms only: the curated IPOC windows and windows cut from the day-long continuous records
   (`hfm seismic curate --source continuous`), where the shared data are present.
3. Fine-tune every tensor of it with the benchmark's recipe (`benchmarks.recipe.picker_options`: depth-8 refiner,
   per-component scaling, component augmentation) on crops of PhaseNet's NCEDC windows with their analyst picks
   (`--source npz`, train split).
4. Evaluate against STA/LTA, AIC (and PhaseNetLight where seisbench is installed) on the curated real windows and on
   synthetic test records (a sanity check only); export the picker; annotate the whole Tohoku record.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import obspy
import pandas as pd
import torch
from obspy.geodetics import locations2degrees

from hfm.seismic.baselines.peers import PhaseNetLightPeer
from hfm.seismic.benchmarks.picking import PickBenchConfig
from hfm.seismic.benchmarks.recipe import picker_options
from hfm.seismic.curate import CurationConfig, curate_items, curate_seisbench
from hfm.seismic.data.records import Records, load_records, training_crops
from hfm.seismic.data.reference import theoretical_onsets, tohoku_sac, tohoku_trace
from hfm.seismic.data.windows import LabelledWindows, seisbench_windows, synthetic_windows
from hfm.seismic.experiments import compare, cut_event_windows
from hfm.seismic.format import SeisBenchDataset
from hfm.seismic.metrics import scores_table
from hfm.seismic.predict import annotate
from hfm.seismic.readers.catalogue import write_quakeml
from hfm.seismic.readers.continuous import ContinuousConfig, continuous_curation_items
from hfm.seismic.readers.phasenet_npz import npz_curation_items
from hfm.seismic.training import export_picker, finetune_windows, pretrain_onset
from hfm.shared.curate_driver import DatasetDescription
from hfm.shared.errors import HFMError
from hfm.shared.quickstart import QuickstartContext, QuickstartResult
from hfm.shared.sample_data import DataUnavailable, require_data
from hfm.shared.shortcuts import RunSettings


def write_user_archive(dummy: Path, folder: Path, limit: int | None) -> Path:
    """The dummy traces as one miniSEED file per event plus the Tohoku SAC, and a CSV pick catalogue."""
    folder.mkdir(parents=True, exist_ok=True)
    dataset = SeisBenchDataset(dummy)
    meta = dataset.metadata
    rows = []
    for index in range(len(dataset) if limit is None else min(limit, len(dataset))):
        r = meta.iloc[index]
        start = obspy.UTCDateTime(str(r["trace_start_time"]).replace("/", "-").replace(" ", "T"))
        wave = dataset.waveform(index)
        stream = obspy.Stream()
        for component, data in zip("ZNE", wave, strict=True):
            header = {
                "network": r["station_network_code"],
                "station": r["station_code"],
                "channel": f"BH{component}",
                "starttime": start,
                "sampling_rate": dataset.sampling_rate(index),
            }
            stream += obspy.Trace(data=data.astype(np.float32), header=header)
        stream.write(str(folder / f"{r['station_network_code']}.{r['station_code']}.{index:03d}.mseed"), format="MSEED")
        distance = locations2degrees(
            r["source_latitude_deg"], r["source_longitude_deg"], r["station_latitude_deg"], r["station_longitude_deg"]
        )
        tp, ts = theoretical_onsets(r["source_depth_km"], distance)
        event = f"ipoc{index:03d}"
        source = {
            "source_latitude_deg": r["source_latitude_deg"],
            "source_longitude_deg": r["source_longitude_deg"],
            "source_depth_km": r["source_depth_km"],
            "source_magnitude": r["source_magnitude"],
            "source_origin_time": str(start),
        }
        for phase, travel in (("P", tp), ("S", ts)):
            if np.isfinite(travel):
                rows.append(
                    {
                        "event_id": event,
                        "network": r["station_network_code"],
                        "station": r["station_code"],
                        "phase": phase,
                        "time": str(start + travel),
                        **source,
                    }
                )
    dataset.close()
    trace, pick = tohoku_trace()
    (folder / "II.TLY.BHZ.SAC").write_bytes(tohoku_sac().read_bytes())
    rows.append(
        {
            "event_id": "tohoku2011",
            "network": trace.stats.network,
            "station": trace.stats.station,
            "phase": "P",
            "time": str(pick),
            "source_magnitude": 9.1,
        }
    )
    catalogue = folder.parent / "picks.csv"
    pd.DataFrame(rows).to_csv(catalogue, index=False)
    return catalogue


def _stack(records: Records, samples: int, limit: int) -> np.ndarray:
    waves = [w[:, s : s + samples] for w in records.waveforms for s in range(0, w.shape[-1] - samples + 1, samples)]
    return np.stack(waves[:limit]).astype(np.float32) if waves else np.zeros((0, 3, samples), np.float32)


def real_corpus(out: Path, ipoc: np.ndarray, smoke: bool, progress: bool) -> tuple[np.ndarray, str]:
    """Real unlabelled 10 s windows: the curated IPOC windows plus windows of the continuous day-long records."""
    parts = {"IPOC": ipoc}
    try:
        continuous = require_data("seismic/continuous")
    except DataUnavailable:
        continuous = None
    if continuous is not None:
        config = ContinuousConfig(window_s=10.0, stride_s=600.0, max_windows=4 if smoke else 64)
        items = continuous_curation_items(continuous, config)
        describe = DatasetDescription(
            "continuous-quickstart", "MIT", ["NoisePy"], "unlabelled windows of day-long records"
        )
        summary = curate_items(
            items, out / "continuous", 100.0, describe, {"window_s": 10.0}, show_progress=progress
        ).summary
        if summary.written:
            parts["continuous"] = _stack(load_records(out / "continuous"), 1000, 10_000)
    corpus = np.concatenate([p for p in parts.values() if len(p)])
    return corpus, ", ".join(f"{k} {len(v)}" for k, v in parts.items())


def real_labels(out: Path, smoke: bool, seed: int, progress: bool) -> tuple[LabelledWindows, str]:
    """Crops of PhaseNet's NCEDC windows (train split, by station) with their analyst P and S picks."""
    try:
        folder = require_data("seismic/phasenet-ncedc") / "dataset"
    except DataUnavailable:
        return synthetic_windows(32 if smoke else 1024, seed + 200), "synthetic: NCEDC windows not available"
    describe = DatasetDescription("ncedc-quickstart", "MIT", ["NCEDC / AI4EPS PhaseNet"], "PhaseNet NCEDC windows")
    curate_items(npz_curation_items(folder), out / "ncedc", 100.0, describe, {}, show_progress=progress)
    train = load_records(out / "ncedc", split="train")
    crops = training_crops(train, 1000, 1 if smoke else 6, seed)
    return crops, f"NCEDC analyst picks, {len(train)} train windows"


def run(context: QuickstartContext) -> QuickstartResult:
    torch.manual_seed(context.seed)
    # DataUnavailable where absent: the quickstart shows the section as skipped with its `hfm data fetch` command.
    dummy = require_data("seismic/seisbench-dummy")
    out = context.out_dir
    smoke = context.smoke
    archive = out / "archive" / "waveforms"
    # 40 of the 100 IPOC traces: iasp91 costs ~0.3 s per trace and the quickstart should stay near two minutes.
    catalogue = write_user_archive(dummy, archive, 12 if smoke else 40)
    dataset = out / "dataset"
    summary = curate_seisbench(
        archive,
        catalogue,
        dataset,
        CurationConfig(sampling_rate=20.0, window_s=20.0, p_offset_s=(2.0, 8.0), noise_gap_s=1.0, seed=context.seed),
        DatasetDescription("ipoc-tohoku-quickstart", "GPL-3.0-only", ["IPOC / SeisBench", "ObsPy"]),
        show_progress=context.show_progress,
    ).summary
    real = seisbench_windows(dataset, split=None, samples=2000)  # 20 s at 100 Hz, every curated window
    real_test = cut_event_windows(real, 1000, context.seed)  # 10 s windows around P and before it (noise)
    steps = (5, 5) if smoke else (160, 400)
    corpus, corpus_note = real_corpus(out, real_test.waveforms, smoke, context.show_progress)
    # The benchmark's recipe at a demo's scale: the same objective, refiner, scaling and augmentation, 10 s windows
    # and a tenth of its 1600 pretraining steps (docs/seismic.md, "Quickstart").
    recipe = PickBenchConfig()
    settings = RunSettings(steps[0], recipe.batch_size, recipe.lr, context.seed, progress=context.show_progress)
    _, pre = pretrain_onset(corpus, out / "pretrain", settings, recipe.onset_options())
    train, train_note = real_labels(out, smoke, context.seed, context.show_progress)
    settings = replace(settings, steps=steps[1])
    options = picker_options(recipe, str(out / "pretrain" / "final"))
    picker, fine = finetune_windows(train, out / "finetune", settings, **options)
    try:
        peer = PhaseNetLightPeer(require_data("seismic/peers"))
    except HFMError:
        peer = None
    synthetic_test = synthetic_windows(48 if smoke else 200, context.seed + 300)
    tables = {
        "curated real windows (IPOC, iasp91 onsets; Tohoku analyst P)": compare(picker, real_test, peer, context.seed),
        "synthetic test records": compare(picker, synthetic_test, peer, context.seed),
    }
    hfm_synthetic = tables["synthetic test records"][0]
    model_dir = export_picker(
        picker,
        out / "model",
        "seismic-picker-tiny",
        {k: v for k, v in vars(hfm_synthetic).items() if isinstance(v, float)},
        dataset,
    )
    trace, pick = tohoku_trace()
    _, picks = annotate(picker, obspy.Stream([trace]))
    picks.to_csv(out / "tohoku_picks.csv", index=False)
    write_quakeml(picks, out / "tohoku_picks.xml")
    first_p = picks[picks["phase"] == "P"]
    nearest = min(abs(obspy.UTCDateTime(t) - pick) for t in first_p["time"]) if len(first_p) else float("nan")
    lines = [
        "## seismic",
        "",
        f"Curation: {summary.line()} -> `{dataset.name}/` (SeisBench format, card.json).",
        f"Pretrained the whole picker {pre.step} steps (onset objective) on {len(corpus)} real unlabelled windows "
        f"({corpus_note}); fine-tuned every tensor {fine.step} steps on {len(train)} labelled windows ({train_note}); "
        f"picker exported to `{model_dir.name}/`.",
        "",
    ]
    for name, rows in tables.items():
        lines += [f"### {name}", "", scores_table(rows), ""]
    found = f"nearest P pick {nearest:.2f} s from the analyst pick" if np.isfinite(nearest) else "no P pick"
    lines += [
        f"Tohoku II.TLY annotated whole ({trace.stats.npts / trace.stats.sampling_rate:.0f} s): {len(picks)} picks, "
        f"{found} (`tohoku_picks.csv`, `tohoku_picks.xml`); a teleseismic record, unlike the local training data.",
        "",
        "IPOC onsets are theoretical (iasp91), not analyst picks."
        + ("" if peer else " PhaseNetLight skipped: seisbench not installed."),
        "",
    ]
    metrics = {
        "curated": summary.written,
        "quarantined": summary.quarantined,
        "synthetic_detection_auc": hfm_synthetic.detection_auc,
        "synthetic_p_mae_s": hfm_synthetic.p.mae_s,
        "tohoku_nearest_p_s": nearest,
    }
    return QuickstartResult(domain="seismic", markdown="\n".join(lines), metrics=metrics)
