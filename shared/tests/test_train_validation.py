"""Model selection in the trainer: validation every K steps, the best checkpoint kept and exported as final, the last
weights beside it, early stopping with patience, the selection in the run folder and the model card."""

from __future__ import annotations

import json

import pytest
import torch
from accelerate.state import AcceleratorState
from safetensors.torch import load_file

from hfm.shared.errors import HFMError
from hfm.shared.train.checkpoint import checkpoint_dirs, read_checkpoint
from hfm.shared.train.config import ValidationConfig, load_config
from hfm.shared.train.task import build_task
from hfm.shared.train.trainer import Trainer
from hfm.shared.train.validation import ValidationState, is_better

# 32 noisy training samples: the model fits the noise and the clean validation loss turns up after ~20 steps.
OVERFIT = ["task.samples=32", "task.noise=1.0", "task.validation_samples=64", "task.data_seed=1234"]
TRAIN = ["run.seed=3", "train.steps=120", "train.batch_size=16", "train.log_every=10", "train.progress=false"]
OPTIM = ["optim.lr=3e-3", "optim.warmup_steps=5", "optim.min_lr=1e-3", "optim.weight_decay=0"]


@pytest.fixture(autouse=True)
def fresh_accelerate_state():
    AcceleratorState._reset_state(reset_partial_state=True)
    torch.set_num_threads(1)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def run(tmp_path, *overrides: str):
    cfg = load_config(None, [f"run.out_dir={tmp_path / 'run'}", *OVERFIT, *TRAIN, *OPTIM, *overrides])
    return Trainer(cfg, build_task(cfg.task.name, cfg.task.options)).fit()


def test_early_stopping_keeps_the_best_checkpoint_and_exports_it_as_final(tmp_path):
    overrides = ["validation.every=10", "validation.patience=3", "train.ckpt_every=40", "train.keep_last=1"]
    result = run(tmp_path, *overrides)
    folder = tmp_path / "run"
    selection = json.loads((folder / "selection.json").read_text())
    history = selection["history"]
    # Validated at 10, 20, ...; the loss is lowest at 20, then three validations without improvement stop the run.
    assert [h["step"] for h in history] == [10, 20, 30, 40, 50]
    losses = [h["loss"] for h in history]
    assert selection["best_step"] == 20 and selection["best_score"] == min(losses) == losses[1]
    assert losses[1] < 0.9 * losses[4]  # a real turn-up, not noise: overfitting costs > 10%
    assert selection["stopped_early"] and selection["last_step"] == 50 == result.step
    assert result.status == "completed" and result.selection["best_step"] == 20
    # keep_last=1 keeps step 50, and the best (20) is never rotated away
    assert [step for step, _ in checkpoint_dirs(folder / "checkpoints")] == [50, 20]
    best = read_checkpoint(folder / "checkpoints" / "step-000020")
    assert best.state["validation"]["best_step"] == 20
    final, last = load_file(folder / "final" / "model.safetensors"), load_file(folder / "last" / "model.safetensors")
    assert all(torch.equal(final[k], best.tensors["model"][k]) for k in final)
    assert any(not torch.equal(final[k], last[k]) for k in final)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["selection"]["best_step"] == 20 and summary["step"] == 50
    rows = [json.loads(line) for line in (folder / "validation.jsonl").read_text().splitlines()]
    assert rows == history  # one line per validation, beside metrics.jsonl (whose lines stay training lines)
    assert all("lr" in json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines())
    assert not (folder / "run.lock").exists()  # released at the end
    from typer.testing import CliRunner

    from hfm.shared.cli.main import app

    shown = json.loads(CliRunner().invoke(app, ["models", "info", str(folder)], catch_exceptions=False).output)
    assert shown["selection"]["best_step"] == 20 and shown["summary"]["step"] == 50


def test_without_validation_a_run_is_unchanged(tmp_path):
    result = run(tmp_path, "train.steps=20")
    folder = tmp_path / "run"
    assert result.selection is None and not (folder / "selection.json").exists() and not (folder / "last").exists()
    assert (folder / "final" / "model.safetensors").is_file()


def test_a_metric_to_maximise_and_patience_off(tmp_path):
    # -loss is not a metric of the task: the error names the metric and the ones there are
    with pytest.raises(HFMError, match=r"validation.metric: 'r2' is not among .*\(loss, mae\)"):
        run(tmp_path / "a", "validation.every=10", "validation.metric=r2")
    AcceleratorState._reset_state(reset_partial_state=True)
    result = run(tmp_path / "b", "validation.every=30", "validation.metric=mae", "validation.mode=max")
    history = result.selection["history"]
    assert [h["step"] for h in history] == [30, 60, 90, 120] and not result.selection["stopped_early"]
    assert result.selection["best_score"] == max(h["mae"] for h in history)


def test_holdout_when_the_task_offers_no_split(tmp_path):
    base = ["task.validation_samples=0", "train.steps=8", "validation.every=4"]
    with pytest.raises(HFMError, match="offers no validation split"):
        run(tmp_path / "a", *base)
    AcceleratorState._reset_state(reset_partial_state=True)
    result = run(tmp_path / "b", *base, "validation.holdout=0.25")
    assert [h["step"] for h in result.selection["history"]] == [4, 8]


def test_holdout_splits_are_disjoint_and_end_blocks_come_last():
    from hfm.shared.train.toy import toy_regression
    from hfm.shared.train.validation import split_datasets

    task = toy_regression({"samples": 40})
    dataset = task.train_dataset()
    train, val = split_datasets(task, dataset, ValidationConfig(every=1, holdout=0.25, holdout_from="end"), seed=0)
    assert train.indices == list(range(30)) and val.indices == list(range(30, 40))
    train, val = split_datasets(task, dataset, ValidationConfig(every=1, holdout=0.25), seed=0)
    assert len(val) == 10 and not set(train.indices) & set(val.indices) and val.indices != list(range(30, 40))
    again = split_datasets(task, dataset, ValidationConfig(every=1, holdout=0.25), seed=0)[1]
    assert again.indices == val.indices  # seeded
    # selection off: the task's split is not built and nothing is held out
    assert split_datasets(task, dataset, ValidationConfig(every=0, holdout=0.25), seed=0) == (dataset, None)


def test_selection_state_rules():
    config = ValidationConfig(every=1, metric="loss", mode="min", patience=2, min_delta=0.01)
    state = ValidationState()
    assert state.record(1, {"loss": 1.0}, config)
    assert not state.record(2, {"loss": 0.995}, config)  # better by less than min_delta
    assert state.record(3, {"loss": 0.9}, config) and state.bad_validations == 0
    assert not state.record(4, {"loss": float("nan")}, config)
    assert not state.record(5, {"loss": 2.0}, config) and state.stopped_early
    text = json.dumps(state.to_dict())  # NaN is not equal to itself: compare the JSON
    assert json.dumps(ValidationState.from_dict(json.loads(text)).to_dict()) == text
    assert is_better(2.0, 1.0, "max") and not is_better(1.0, 1.0, "max") and is_better(0.0, None, "min")


def test_config_section_defaults_and_errors():
    cfg = load_config(None, [])
    assert cfg.validation == ValidationConfig(every=0, metric="loss", mode="min", patience=None)
    with pytest.raises(HFMError, match=r"validation.mode: must be one of min, max, got 'down'"):
        load_config(None, ["validation.mode=down"])
    with pytest.raises(HFMError, match=r"validation.patience: must be >= 1 or null, got 0"):
        load_config(None, ["validation.patience=0"])
    assert load_config(None, ["validation.patience=null"]).validation.patience is None


class _EncoderHeadTask:
    """A registry encoder under `encoder.` with a linear head: what layer-wise decay and head-only steps act on."""

    def __init__(self, options):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(32, 1, 32, generator=generator)
        self.y = self.x[:, 0].mean(dim=1, keepdim=True) * 3

    def build_model(self):
        from hfm.shared.eval.finetune import EncoderWithHead
        from hfm.shared.models.registry import create_model

        encoder = create_model("series-encoder-tiny", channels=1, patch_len=8, width=16, depth=2, heads=2)
        return EncoderWithHead(encoder, outputs=1)

    def train_dataset(self):
        return torch.utils.data.TensorDataset(self.x, self.y)

    def loss(self, model, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(model(x), y), {}


def test_layer_decay_and_head_only_steps_in_the_trainer(tmp_path):
    from hfm.shared.train.task import register_task

    register_task("test-encoder-head")(_EncoderHeadTask)
    base = [
        "task.name=test-encoder-head",
        "train.batch_size=8",
        "train.progress=false",
        "train.ckpt_every=3",
        "train.keep_last=5",
        "optim.lr=1e-2",
        "optim.min_lr=1e-2",
        "optim.layer_decay=0.5",
        "optim.head_only_steps=3",
    ]
    cfg = load_config(None, [f"run.out_dir={tmp_path / 'run'}", "train.steps=6", *base])
    task = build_task(cfg.task.name, cfg.task.options)
    torch.manual_seed(cfg.run.seed)
    initial = task.build_model().state_dict()
    Trainer(cfg, task).fit()
    at3 = read_checkpoint(tmp_path / "run" / "checkpoints" / "step-000003")
    at6 = read_checkpoint(tmp_path / "run" / "checkpoints" / "step-000006")
    encoder_keys = [k for k in initial if k.startswith("encoder.")]
    # the first 3 steps move the head only; then everything trains
    assert all(torch.equal(at3.tensors["model"][k], initial[k]) for k in encoder_keys)
    assert not torch.equal(at3.tensors["model"]["head.weight"], initial["head.weight"])
    assert all(not torch.equal(at6.tensors["model"][k], initial[k]) for k in encoder_keys if "weight" in k)
    # group lrs after the head-only phase: 1e-2 * 0.5 ** (3 - layer); embedding 0, blocks 1-2, head and norm 3
    groups = at6.state["optimizer"]["param_groups"]
    assert {(g["layer"], g["encoder"]) for g in groups} >= {(0, True), (1, True), (2, True), (3, True), (3, False)}
    for group in groups:
        assert group["lr"] == pytest.approx(1e-2 * 0.5 ** (3 - group["layer"])), group["layer"]
    # these keys cannot change in an existing run folder
    AcceleratorState._reset_state(reset_partial_state=True)
    changed = load_config(None, [f"run.out_dir={tmp_path / 'run'}", "train.steps=8", *base, "optim.layer_decay=0.9"])
    with pytest.raises(HFMError, match=r"optim.layer_decay is 0.9 but the run was started with 0.5"):
        Trainer(changed, build_task(changed.task.name, changed.task.options)).fit()


def test_at_start_makes_the_initial_weights_a_candidate(tmp_path):
    # A learning rate that only makes the model worse: the initial weights (step 0) are chosen and exported.
    overrides = ["validation.every=10", "validation.patience=2", "validation.at_start=true"]
    result = run(tmp_path, *overrides, "optim.lr=0.3", "optim.min_lr=0.3")
    history = result.selection["history"]
    assert [h["step"] for h in history] == [0, 10, 20] and result.selection["best_step"] == 0
    assert history[0]["loss"] < min(h["loss"] for h in history[1:])
    folder = tmp_path / "run"
    torch.manual_seed(3)  # run.seed: the trainer builds the model right after seeding with it
    initial = build_task("toy-regression", {"samples": 32, "noise": 1.0, "validation_samples": 64}).build_model()
    final = load_file(folder / "final" / "model.safetensors")
    assert all(torch.equal(final[k], v) for k, v in initial.state_dict().items())
    assert [step for step, _ in checkpoint_dirs(folder / "checkpoints")] == [20, 0]


def test_a_task_evaluate_that_returns_no_numbers_is_named():
    from hfm.shared.train.toy import toy_regression
    from hfm.shared.train.validation import validate

    task = toy_regression({"samples": 16, "validation_samples": 8})
    task.evaluate = lambda model, batches: {"auc": [0.5, 0.7]}
    with pytest.raises(HFMError, match=r"validation: metric 'auc' is not a number \(list\)"):
        validate(task, task.build_model(), task.validation_dataset(), 4, torch.device("cpu"), seed=0)
