"""Two processes (gloo, CPU) under `accelerate launch` stream a sharded dataset (issue 18): each reads its own shards,
both positions go into the checkpoint, and a run preempted after 4 steps resumes with every process at its exact
next batch, ending with the same weights as a run that was never interrupted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, os, signal, sys
import torch, torch.nn.functional as F
from torch import nn
from hfm.shared.arraystore import ArrayStoreFormat
from hfm.shared.shard_loader import ShardStream
from hfm.shared.train.config import load_config
from hfm.shared.train.trainer import Trainer

data, out, preempt_at = sys.argv[1], sys.argv[2], int(sys.argv[3])
rank = int(os.environ.get("RANK", 0))  # before the trainer sets up gloo (cpu=True)

class Task:
    seen = []
    def build_model(self):
        return nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.2), nn.Linear(8, 1))
    def train_dataset(self):
        return ShardStream(data, ArrayStoreFormat())
    def loss(self, model, batch):
        self.seen.append(list(batch["key"]))
        if rank == 0 and len(self.seen) == preempt_at:
            os.kill(os.getpid(), signal.SIGUSR1)
        x = batch["x"]
        return F.mse_loss(model(x)[:, 0], x.sum(dim=1)), {}

config = load_config(None, [f"run.out_dir={out}", "run.seed=3", "run.deterministic=true", "train.steps=10",
                            "train.batch_size=8", "train.progress=false", "train.log_every=5", "train.ckpt_every=100"])
task = Task()
result = Trainer(config, task).fit()
with open(f"{out}.rank{rank}.jsonl", "a") as handle:
    handle.write(json.dumps({"status": result.status, "seen": task.seen}) + "\\n")
"""


def run(script: Path, data: Path, out: Path, preempt_at: int) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launch += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port"]
    launch += ["29531", str(script), str(data), str(out), str(preempt_at)]
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def sessions(out: Path, rank: int) -> list[dict]:
    return [json.loads(line) for line in Path(f"{out}.rank{rank}.jsonl").read_text().splitlines()]


def test_two_processes_stream_their_shards_and_resume_at_the_exact_next_batch(tmp_path, sharded_arrays):
    script = tmp_path / "train_stream.py"
    script.write_text(SCRIPT)
    run(script, sharded_arrays, tmp_path / "whole", preempt_at=0)
    run(script, sharded_arrays, tmp_path / "cut", preempt_at=4)
    state = json.loads((tmp_path / "cut/checkpoints/step-000004/state.json").read_text())
    assert state["data"] == {"seed": 3, "stream": [{"epoch": 0, "batches": 4}, {"epoch": 0, "batches": 4}]}
    run(script, sharded_arrays, tmp_path / "cut", preempt_at=0)
    for rank in (0, 1):
        (whole,), (first, rest) = sessions(tmp_path / "whole", rank), sessions(tmp_path / "cut", rank)
        assert (whole["status"], first["status"], rest["status"]) == ("completed", "preempted", "completed")
        assert len(whole["seen"]) == 10 and first["seen"] + rest["seen"] == whole["seen"]
    ranks = [{k for batch in sessions(tmp_path / "whole", r)[0]["seen"][:6] for k in batch} for r in (0, 1)]
    assert not ranks[0] & ranks[1]  # in the first epoch the processes read different shards
    final = "final/model.safetensors"
    assert (tmp_path / "cut" / final).read_bytes() == (tmp_path / "whole" / final).read_bytes()
