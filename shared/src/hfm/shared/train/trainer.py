"""The trainer: one loop over optimiser steps, on Hugging Face accelerate, that resumes exactly where it stopped.

A run folder holds everything about a run:

    config.yaml        the resolved configuration
    environment.json   packages, git commit, host, world size (of the latest session)
    metrics.jsonl      one line per logged step: loss, lr, grad norm, samples/s, wall time
    validation.jsonl   with model selection: one line per validation, the task's validation metrics
    tensorboard/       the same metrics for TensorBoard
    checkpoints/       step-NNNNNN folders (see checkpoint.py); the newest valid one is resumed automatically
    final/             model.safetensors (and ema.safetensors) when the run completes: with model selection
                       (`validation.every` > 0) the weights of the best validated step, otherwise the last ones
    last/              with model selection: the weights of the last step, beside the chosen ones in final/
    selection.json     with model selection: metric, mode, chosen step, its score, early stop, every validation
    summary.json       status (completed | preempted), steps, wall time, throughput, energy, selection
    run.lock           while a run uses the folder: the PID and host of its main process (see lock.py)

Only the main process writes into it. SIGTERM or SIGUSR1 finish the step in progress, save a checkpoint, mark the
summary "preempted" and make `fit` return; the CLI then exits with EXIT_REQUEUE (75).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, broadcast_object_list, gather_object, send_to_device
from safetensors.torch import save as save_safetensors
from torch import nn

from hfm.shared.errors import HFMError
from hfm.shared.jsonio import dump_json, write_atomic
from hfm.shared.progress import progress_bar
from hfm.shared.shard_loader import ShardStream
from hfm.shared.train.batches import IndexedBatches, StreamedBatches
from hfm.shared.train.checkpoint import (
    checkpoint_dirs,
    load_latest,
    optimizer_from_safe,
    optimizer_to_safe,
    read_checkpoint,
    save_checkpoint,
)
from hfm.shared.train.config import Config, config_to_dict, config_to_yaml
from hfm.shared.train.ema import EMA
from hfm.shared.train.energy import EnergyMeter, combine
from hfm.shared.train.environment import describe_environment
from hfm.shared.train.lock import RunLock
from hfm.shared.train.metrics import MetricsLog
from hfm.shared.train.param_groups import layer_decay_groups
from hfm.shared.train.rng import capture_rng, restore_rng, seed_everything
from hfm.shared.train.sampler import micro_batch
from hfm.shared.train.schedule import warmup_cosine
from hfm.shared.train.task import TrainTask
from hfm.shared.train.validation import ValidationState, split_datasets, validate

PREEMPT_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)
# Keys whose change would make a resumed run a different run: refused on resume.
_FIXED_ON_RESUME = ("run.seed", "task", "train.batch_size", "data.shuffle")
# Fixed too, but absent from checkpoints written before they existed: compared against their default then.
_FIXED_IF_SAVED = {"optim.layer_decay": 1.0, "optim.head_only_steps": 0}
# Where accelerate's backward / clip / optimizer-step wrappers add nothing but cost: no loss scaler, plain or DDP
# processes. accelerate 1.15's optimizer wrapper looks for an optional package on the file system twice per step
# and inspects a signature in zero_grad (together about 1.5 ms, 10% of a small model's CPU step), so these cases
# call PyTorch directly.
_PLAIN_DISTRIBUTED = (DistributedType.NO, DistributedType.MULTI_CPU, DistributedType.MULTI_GPU)


@dataclass
class TrainResult:
    status: str  # "completed" or "preempted"
    step: int
    run_dir: Path
    wall_s: float
    samples_per_s: float | None
    resumed_from: int | None
    energy: dict[str, Any]
    selection: dict[str, Any] | None = None  # with model selection: what selection.json holds


def enable_determinism() -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decay matrices, not biases or norm scales (GPT-2 / timm convention)."""
    decay, no_decay = [], []
    for parameter in model.parameters():
        if parameter.requires_grad:
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _PreemptionFlag:
    """Set by SIGTERM/SIGUSR1; the loop looks at it between optimiser steps."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _PreemptionFlag:
        for sig in PREEMPT_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and not (prefix == "" and key == "task"):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _destroy_process_group() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


@functools.cache
def _destroy_process_group_at_exit() -> None:
    """Once per process: a gloo group left to interpreter finalisation can abort the process ("terminate called
    without an active exception", SIGABRT) while its worker threads still hold tensors; destroyed at exit, it cannot."""
    atexit.register(_destroy_process_group)


class Trainer:
    def __init__(self, config: Config, task: TrainTask, accelerator: Accelerator | None = None) -> None:
        self.config = config
        self.task = task
        if config.run.deterministic:
            enable_determinism()
        # cpu=True on a machine without CUDA lets accelerate set up gloo when a launcher (torchrun, accelerate launch
        # --multi_gpu) starts several processes; otherwise it would run each process alone.
        self.accelerator = accelerator or Accelerator(
            mixed_precision=config.train.precision, cpu=not torch.cuda.is_available()
        )
        if self.accelerator.num_processes > 1:
            _destroy_process_group_at_exit()
        self.run_dir = Path(config.run.out_dir)
        self.is_main = self.accelerator.is_main_process

    # ----------------------------------------------------------------------------------------------- set-up
    def _build(self) -> None:
        cfg, acc = self.config, self.accelerator
        seed_everything(cfg.run.seed)  # the same initial weights on every process
        model = self.task.build_model()
        self.dataset, self.validation_set = split_datasets(
            self.task, self.task.train_dataset(), cfg.validation, cfg.run.seed
        )
        self.selection = ValidationState()
        o, steps = cfg.optim, cfg.train.steps
        if o.layer_decay < 1 or o.head_only_steps:
            groups = [
                {k: v for k, v in group.items() if k != "names"}
                for group in layer_decay_groups(model, o.lr, o.layer_decay, o.weight_decay)
            ]
        else:
            groups = parameter_groups(model, o.weight_decay)
        optimizer = torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2))

        def schedule(step: int, encoder: bool = False) -> float:
            # lr 0 keeps the encoder still in the head-only phase (the model stays whole for DDP's reducer)
            if encoder and step < o.head_only_steps:
                return 0.0
            return warmup_cosine(step, steps, o.warmup_steps, o.lr, o.min_lr) / o.lr

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, [functools.partial(schedule, encoder=bool(g.get("encoder"))) for g in groups]
        )
        self.model, self.optimizer = acc.prepare(model, optimizer)
        self.raw_model = acc.unwrap_model(self.model)
        self._plain = acc.scaler is None and acc.distributed_type in _PLAIN_DISTRIBUTED
        # The optimizer that steps: the torch one itself in plain cases (see _PLAIN_DISTRIBUTED).
        self._stepper = self.optimizer.optimizer if self._plain else self.optimizer
        # Without native mixed precision accelerate's autocast is a null context too, reached through two calls.
        self._autocast = acc.autocast if acc.native_amp else contextlib.nullcontext
        self.ema = EMA(self.raw_model, cfg.ema.decay) if cfg.ema.enabled else None
        self.data = self._batches()
        self.step = 0
        self.wall_before = 0.0
        self._last_grad_norm: torch.Tensor | None = None

    def _batches(self) -> IndexedBatches | StreamedBatches:
        """The training batches: a sharded dataset (the task returned a `ShardStream`) is streamed shard by shard,
        any other dataset is indexed through the resumable sampler."""
        cfg, acc = self.config, self.accelerator
        options = {
            "num_workers": cfg.data.num_workers,
            "collate_fn": getattr(self.task, "collate", None),
            "pin_memory": acc.device.type == "cuda",
        }
        place = (acc.process_index, acc.num_processes, cfg.run.seed, cfg.data.shuffle)
        if isinstance(self.dataset, ShardStream):
            micro = micro_batch(cfg.train.batch_size, cfg.train.grad_accum, acc.num_processes)
            return StreamedBatches(self.dataset, micro, *place, **options)
        return IndexedBatches(self.dataset, cfg.train.batch_size, cfg.train.grad_accum, *place, **options)

    # --------------------------------------------------------------------------------------------- resume
    def _resume(self) -> int | None:
        checkpoint = load_latest(self.run_dir / "checkpoints")
        if checkpoint is None:
            # Each process gets its own random stream (dropout, masking), derived from the run seed.
            seed_everything(self.config.run.seed * 10_000 + 1 + self.accelerator.process_index)
            return None
        state = checkpoint.state
        saved, now = _flatten(state["config"]), _flatten(config_to_dict(self.config))
        fixed = {key: saved.get(key) for key in _FIXED_ON_RESUME}
        fixed.update({key: saved.get(key, default) for key, default in _FIXED_IF_SAVED.items()})
        for key, before in fixed.items():
            if before != now.get(key):
                raise HFMError(
                    f"{self.run_dir}: {key} is {now.get(key)!r} but the run was started with {before!r}; "
                    "use a new run.out_dir to change it"
                )
        self.raw_model.load_state_dict(checkpoint.tensors["model"])
        self.optimizer.optimizer.load_state_dict(
            optimizer_from_safe(checkpoint.tensors["optimizer"], state["optimizer"])
        )
        self.scheduler.load_state_dict(state["scheduler"])
        if self.ema is not None:
            if "ema" in checkpoint.tensors:
                self.ema.load_state_dict(checkpoint.tensors["ema"])
            else:  # EMA switched on mid-run: start it from the current weights
                self.ema = EMA(self.raw_model, self.config.ema.decay)
        warn = self.accelerator.print if self.is_main else lambda message: None
        self.data.restore(state["data"], self.accelerator.num_processes, warn)
        self.step = checkpoint.step
        self.wall_before = state.get("wall_s", 0.0)
        self.selection = ValidationState.from_dict(state.get("validation", {}))
        rng = state["rng"]
        rank = self.accelerator.process_index
        if len(rng) == self.accelerator.num_processes:
            restore_rng(rng[rank])
        else:  # a different number of processes: not an exact continuation any more, say so
            if self.is_main:
                self.accelerator.print(
                    f"warning: checkpoint has RNG states of {len(rng)} processes, this run has "
                    f"{self.accelerator.num_processes}; random streams are reseeded"
                )
            seed_everything(self.config.run.seed * 10_000 + 1 + rank + 7919 * self.step)
        return checkpoint.step

    def _gather(self, item: Any) -> list[Any]:
        return [item] if self.accelerator.num_processes == 1 else gather_object([item])

    def _save(self, wall_s: float) -> None:
        rng = self._gather(capture_rng())  # a collective: every process takes part
        data_ranks = self._gather(self.data.rank_state()) if self.data.streamed else []
        if self.is_main:
            optimizer_tensors, optimizer_plain = optimizer_to_safe(self.optimizer.optimizer.state_dict())
            tensors = {"model": self.raw_model.state_dict(), "optimizer": optimizer_tensors}
            if self.ema is not None:
                tensors["ema"] = self.ema.state_dict()
            state = {
                "config": config_to_dict(self.config),
                "optimizer": optimizer_plain,
                "scheduler": self.scheduler.state_dict(),
                "data": self.data.saved_state(data_ranks),
                "rng": rng,
                "wall_s": wall_s,
                "world_size": self.accelerator.num_processes,
                "validation": self.selection.to_dict(),
            }
            best = self.selection.best_step
            keep = (best,) if best is not None else ()
            save_checkpoint(self.run_dir / "checkpoints", self.step, tensors, state, self.config.train.keep_last, keep)
        self.accelerator.wait_for_everyone()

    # ---------------------------------------------------------------------------------------------- the loop
    def fit(self) -> TrainResult:
        """Train to `train.steps`, or until SIGTERM/SIGUSR1 (status "preempted" after a checkpoint)."""
        # Handlers go in first: a signal during set-up is honoured after the first step instead of killing the run.
        with _PreemptionFlag() as preempt, self._locked():
            return self._fit(preempt)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The run folder's lock, taken by the main process; every process fails alike when another run holds it."""
        lock = RunLock(self.run_dir) if self.is_main else None
        refusal = None
        if lock is not None:
            try:
                lock.acquire()
            except HFMError as error:
                refusal = str(error)
        if self.accelerator.num_processes > 1:
            shared = [refusal]
            broadcast_object_list(shared)
            refusal = shared[0]
        if refusal is not None:
            raise HFMError(refusal)
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    def _fit(self, preempt: _PreemptionFlag) -> TrainResult:
        cfg, acc = self.config, self.accelerator
        self._build()
        resumed_from = self._resume()
        if self.is_main:
            machines = acc.num_processes // int(os.environ.get("LOCAL_WORLD_SIZE", acc.num_processes))
            env = describe_environment(acc.num_processes, machines, str(acc.device))
            _write_together({"config.yaml": config_to_yaml(cfg), "environment.json": dump_json(env)}, self.run_dir)
        metrics = MetricsLog(self.run_dir) if self.is_main else None
        gpu = (acc.device.index or 0) if acc.device.type == "cuda" else None
        energy = EnergyMeter(gpu_index=gpu, read_cpu=acc.is_local_main_process)
        energy.start()

        start = time.perf_counter()
        window_start, window_steps = start, 0
        window_loss = torch.zeros((), device=acc.device)
        window_logs: dict[str, float] = {}
        status = "completed"
        first_step = self.step
        fresh = self.step == 0 and not self.selection.history
        if self.validation_set is not None and cfg.validation.at_start and fresh:
            # A fresh run; one resumed from its step-0 checkpoint already holds this validation.
            improved, _ = self._validate(metrics)
            if improved:
                self._save(self.wall_before)
        self.model.train()  # every module; afterwards a step switches it back only when validation left it in eval
        with progress_bar("train", total=cfg.train.steps, enabled=self.is_main and cfg.train.progress) as advance:
            advance(self.step)
            while self.step < cfg.train.steps and not self.selection.stopped_early:
                loss_sum, logs = self._train_step()
                window_loss += loss_sum
                for key, value in logs.items():
                    window_logs[key] = window_logs.get(key, 0.0) + value
                self.data.step_done()
                self.step += 1
                window_steps += 1
                advance()
                last = self.step == cfg.train.steps
                if self.step % cfg.train.log_every == 0 or last:
                    now = time.perf_counter()
                    loss = acc.reduce(window_loss, reduction="mean").item() / window_steps
                    energy.sample()
                    if metrics is not None:
                        values = {
                            "loss": loss,
                            "lr": max(self.scheduler.get_last_lr()),  # the head's, with layer-wise decay
                            "samples_per_s": window_steps * cfg.train.batch_size / (now - window_start),
                            "wall_s": self.wall_before + now - start,
                            "epoch": self.data.epoch,
                        }
                        if self._last_grad_norm is not None:
                            values["grad_norm"] = float(self._last_grad_norm)
                        values.update({k: v / (window_steps * cfg.train.grad_accum) for k, v in window_logs.items()})
                        metrics.log(self.step, values)
                    window_start, window_steps = now, 0
                    window_loss.zero_()
                    window_logs = {}
                improved = stopped_early = False
                if self.validation_set is not None and (self.step % cfg.validation.every == 0 or last):
                    improved, stopped_early = self._validate(metrics)
                stop = self._preempted(preempt)
                # The best step is always a whole checkpoint, so the chosen weights survive a kill and a resume.
                if stop or improved or stopped_early or self.step % cfg.train.ckpt_every == 0 or last:
                    self._save(self.wall_before + time.perf_counter() - start)
                if stop:
                    status = "preempted"
                    break
        session_s = time.perf_counter() - start
        steps_done = self.step - first_step
        samples_per_s = steps_done * cfg.train.batch_size / session_s if steps_done else None
        energy_report = combine(self._gather(energy.report()))
        selection = None
        if self.is_main:
            if status == "completed":
                selection = self._write_final()
            summary = {
                "status": status,
                "step": self.step,
                "steps": cfg.train.steps,
                "resumed_from": resumed_from,
                "session_wall_s": session_s,
                "total_wall_s": self.wall_before + session_s,
                "session_samples_per_s": samples_per_s,
                "world_size": acc.num_processes,
                "energy_this_session": energy_report,
                "selection": selection,
            }
            write_atomic(self.run_dir / "summary.json", dump_json(summary))
            metrics.close()
        acc.wait_for_everyone()
        return TrainResult(
            status,
            self.step,
            self.run_dir,
            self.wall_before + session_s,
            samples_per_s,
            resumed_from,
            energy_report,
            selection,
        )

    def _train_step(self) -> tuple[torch.Tensor, dict[str, float]]:
        """One optimiser step over `grad_accum` micro-batches; returns the summed micro-batch losses and metrics."""
        cfg, acc = self.config, self.accelerator
        accum = cfg.train.grad_accum
        loss_sum: torch.Tensor | None = None
        logs: dict[str, float] = {}
        # model.train() walks every module (about 45 us a step on the toy model, 1% of its CPU step): only when
        # needed. Validation restores the mode it found; a task that switches a submodule in `loss` keeps its choice.
        if not self.model.training:
            self.model.train()
        for micro in range(accum):
            batch = send_to_device(self.data.next_batch(), acc.device)
            # Gradients are all-reduced once per optimiser step, on the last micro-batch.
            sync = contextlib.nullcontext() if micro == accum - 1 else acc.no_sync(self.model)
            with sync:
                with self._autocast():
                    loss, micro_logs = self.task.loss(self.model, batch)
                scaled = loss / accum if accum > 1 else loss
                if self._plain:
                    scaled.backward()
                else:
                    acc.backward(scaled)
            part = loss.detach().float() / accum if accum > 1 else loss.detach().float()
            loss_sum = part if loss_sum is None else loss_sum + part
            for key, value in micro_logs.items():
                logs[key] = logs.get(key, 0.0) + float(value)
        if cfg.train.clip_norm is not None:
            clip = torch.nn.utils.clip_grad_norm_ if self._plain else acc.clip_grad_norm_
            self._last_grad_norm = clip(self.model.parameters(), cfg.train.clip_norm)
        self._stepper.step()
        self.scheduler.step()
        self._stepper.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update(self.raw_model)
        assert loss_sum is not None  # grad_accum >= 1
        return loss_sum, logs

    def _preempted(self, flag: _PreemptionFlag) -> bool:
        """True on every process if any process got a preemption signal."""
        if self.accelerator.num_processes == 1:
            return flag.signal is not None
        raised = torch.tensor([1.0 if flag.signal is not None else 0.0], device=self.accelerator.device)
        return bool(self.accelerator.reduce(raised, reduction="sum").item() > 0)

    def _validate(self, metrics: MetricsLog | None) -> tuple[bool, bool]:
        """Validate on the main process; every process learns (improved, stop early) from it."""
        cfg = self.config
        payload: dict[str, Any] | None = None
        if self.is_main:
            batch_size = cfg.validation.batch_size or cfg.train.batch_size // cfg.train.grad_accum
            try:
                values = validate(
                    self.task,
                    self.raw_model,
                    self.validation_set,
                    batch_size,
                    self.accelerator.device,
                    cfg.run.seed,
                    cfg.data.num_workers,
                )
                self.selection.record(self.step, values, cfg.validation)
                payload = {"state": self.selection.to_dict()}
            except HFMError as error:
                payload = {"error": str(error)}
            if metrics is not None and "state" in payload:
                metrics.log_validation(self.step, values)
        if self.accelerator.num_processes > 1:
            shared = [payload]
            broadcast_object_list(shared)
            payload = shared[0]
        assert payload is not None
        if "error" in payload:
            raise HFMError(payload["error"])
        self.selection = ValidationState.from_dict(payload["state"])
        return self.selection.best_step == self.step, self.selection.stopped_early

    def _write_final(self) -> dict[str, Any] | None:
        """final/ gets the chosen weights: the best validated step's with model selection, else the last ones."""
        model = save_safetensors(_cpu(self.raw_model.state_dict()))
        ema = save_safetensors(_cpu(self.ema.state_dict())) if self.ema is not None else None
        if self.validation_set is None or self.selection.best_step is None:
            _write_weights(self.run_dir / "final", model, ema)
            return None
        _write_weights(self.run_dir / "last", model, ema)
        best = self._best_checkpoint()
        _write_weights(
            self.run_dir / "final",
            save_safetensors(best.tensors["model"]),
            save_safetensors(best.tensors["ema"]) if "ema" in best.tensors else None,
        )
        v = self.config.validation
        selection = {
            "metric": v.metric,
            "mode": v.mode,
            "every": v.every,
            "patience": v.patience,
            "min_delta": v.min_delta,
            "best_step": self.selection.best_step,
            "best_score": self.selection.best_score,
            "last_step": self.step,
            "stopped_early": self.selection.stopped_early,
            "final_weights": f"checkpoints/{best.path.name}",
            "last_weights": "last/",
            "history": self.selection.history,
        }
        write_atomic(self.run_dir / "selection.json", dump_json(selection))
        return selection

    def _best_checkpoint(self) -> Any:
        step = self.selection.best_step
        path = dict(checkpoint_dirs(self.run_dir / "checkpoints")).get(step)
        try:
            if path is None:
                raise ValueError("not on disk")
            return read_checkpoint(path)
        except ValueError as error:
            # The best checkpoint is kept on purpose; losing it means someone deleted or damaged it.
            raise HFMError(
                f"{self.run_dir}: the best checkpoint (step {step}) is unreadable ({error}); "
                "the last weights are in last/, no final/ was written"
            ) from None


def _write_together(files: dict[str, bytes | str], folder: Path) -> None:
    """`write_atomic` for each file, side by side: each waits for its fsyncs, and concurrent fsyncs share the file
    system's flushes (see checkpoint.py), so a short run's fixed cost is not a chain of them."""
    with ThreadPoolExecutor(max_workers=len(files)) as pool:
        writes = [pool.submit(write_atomic, folder / name, data) for name, data in files.items()]
        for write in writes:
            write.result()


def _write_weights(folder: Path, model: bytes, ema: bytes | None) -> None:
    _write_together({"model.safetensors": model} | ({"ema.safetensors": ema} if ema is not None else {}), folder)


def _cpu(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().cpu().contiguous().clone() for name, tensor in tensors.items()}
